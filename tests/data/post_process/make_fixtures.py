#!/usr/bin/python3
"""Regenerates the post_process_semantic_segmentation fixtures in this folder from
../shared/golden (the four "postprocess" cases: Segformer and BEiT, with and without
target_sizes). The golden logits are 0.6 MB each, too large to copy, so each fixture is a
window of one item's logits plus the block of the golden output that depends only on that
window (every output pixel of the block reads source rows and columns inside the window, by
PyTorch's float32 bilinear indices). The test pastes the window into full-size logits (zeros,
or NaN to prove that nothing outside is read), runs the full-size call and compares the block.

Usage (from the project root): /usr/bin/python3 tests/data/post_process/make_fixtures.py [--shared DIR]
"""
import argparse, json, os
import numpy as np

f32 = np.float32


def source_indices(in_size, out_size):
    """PyTorch's index0/index1 per output position (float32 arithmetic, align_corners=False)."""
    i0, i1 = [], []
    scale = f32(in_size) / f32(out_size)
    for i in range(out_size):
        if in_size == out_size:
            i0.append(i); i1.append(i); continue
        src = f32(scale * (f32(i) + f32(0.5))) - f32(0.5)
        src = max(src, f32(0))
        k = min(int(np.floor(src)), in_size - 1)
        i0.append(k); i1.append(k + (1 if k < in_size - 1 else 0))
    return np.array(i0), np.array(i1)


def block_for(in_size, out_size, lo, hi, want):
    """Output positions [a, b) reading only sources in [lo, hi); at most `want` of them."""
    i0, i1 = source_indices(in_size, out_size)
    ok = np.nonzero((i0 >= lo) & (i1 < hi))[0]
    a, b = int(ok[0]), int(ok[-1]) + 1
    assert np.all(ok == np.arange(a, b))
    return a, min(b, a + want)


# (case id, item, window (row0, col0, rows, cols), largest block side)
PLAN = [
    ("segformer_postproc__target", 0, (0, 0, 9, 9), 64),       # top-left corner, 64 -> 512
    ("segformer_postproc__target", 1, (54, 54, 10, 10), 80),   # bottom-right corner, 64 -> (300, 451)
    ("beit_postproc__target", 0, (13, 11, 5, 6), 40),          # interior, 32 -> 224, 150 classes
    ("segformer_postproc__no_target", 1, (20, 30, 8, 8), 8),
    ("beit_postproc__no_target", 0, (26, 26, 6, 6), 6),        # bottom-right corner
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "../../../../shared"))
    a = ap.parse_args()
    gdir = os.path.join(a.shared, "golden")
    here = os.path.dirname(os.path.abspath(__file__))
    cases = {c["id"]: c for c in map(json.loads, open(os.path.join(gdir, "cases.jsonl")))}
    out = []
    for cid, item, (r0, c0, nr, nc), side in PLAN:
        case = cases[cid]
        z = np.load(os.path.join(gdir, case["npz"]))
        logits = z["in_logits"][item]
        C, h, w = logits.shape
        sizes = case["call_kwargs"]["target_sizes"]
        expected = z["semantic_segmentation_%d" % item]
        if sizes is None:
            H, W = h, w
            y0, y1, x0, x1 = r0, r0 + nr, c0, c0 + nc
        else:
            H, W = sizes[item]
            y0, y1 = block_for(h, H, r0, r0 + nr, side)
            x0, x1 = block_for(w, W, c0, c0 + nc, side)
        assert expected.shape == (H, W) and expected.max() < 256
        name = "%s_%d" % (cid, item)
        np.save(os.path.join(here, name + "_logits.npy"),
                np.ascontiguousarray(logits[:, r0:r0 + nr, c0:c0 + nc]))
        np.save(os.path.join(here, name + "_expected.npy"),
                np.ascontiguousarray(expected[y0:y1, x0:x1].astype(np.uint8)))
        out.append({"id": name, "golden_case": cid, "item": item, "logits_shape": [C, h, w],
                    "target_size": None if sizes is None else [H, W],
                    "window": [r0, c0], "block": [y0, x0],
                    "logits": name + "_logits.npy", "expected": name + "_expected.npy"})
        print(name, "window", (r0, c0, nr, nc), "block", (y0, y1, x0, x1))
    with open(os.path.join(here, "cases.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
