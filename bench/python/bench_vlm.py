"""pixelflow's Qwen2-VL image processor against transformers', on large photos, in one run.

Qwen2-VL-7B-Instruct's bundled config (pipelines/models/Qwen__Qwen2-VL-7B-Instruct: smart_resize
to multiples of 28 within 3136 .. 12845056 pixels, bicubic, rescale, normalize, 14 x 14 patches,
temporal_patch_size 2) on three JPEGs made at run time from the bench photos (a mosaic of
shared/bench/images photos resized with PIL to 1024x1024, 2048x1365 and 4000x3000, saved at
quality 90; deterministic, written to --data-dir, never committed), one image per call (and one
row of two 2048x1365 images in one call, as a list):

  - pixelflow from the file path (decoding included) and from the decoded PIL image;
  - transformers' PIL backend (transformers.Qwen2VLImageProcessor) from the PIL image, and from
    the file (``Image.open(path).convert("RGB")`` inside the timed call);
  - transformers' torchvision backend (Qwen2VLImageProcessorFast), same two inputs, if
    torchvision is installed;

at 1 and 2 threads (pixelflow.set_num_threads(n); torch.set_num_threads(n) for both transformers
backends: the PIL backend is NumPy / PIL on one thread whatever n is). Each figure is the median
of --repeats timed calls (after one warm-up call each), the implementations interleaved and their
order rotated every round. Checks that pixelflow's pixel_values and image_grid_thw are the PIL
backend's bytes (exit status 1 otherwise) and prints the torchvision backend's max |diff|.

A DETR row (a COCO-sized 640x480 photo, DetrImageProcessor defaults) is added when the pixelflow
package has DetrImageProcessor.

    python bench/python/bench_vlm.py [--images DIR] [--data-dir DIR] [--repeats 5]
        [--sizes 1024x1024,2048x1365,4000x3000] [--threads 1,2] [--json OUT]

Environment: build/venv-bench (bench/python/setup_venv.sh: torch + torchvision, transformers
5.0.0, Pillow 9.4.0); with a pixelflow built in this tree, PYTHONPATH=python.
"""
import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

from bench_common import cpu_name, load_average

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODELS = os.path.join(ROOT, "pipelines", "models")
QWEN_MODEL = "Qwen__Qwen2-VL-7B-Instruct"
DETR_MODEL = "facebook__detr-resnet-50"  # used if bundled; else DetrImageProcessor's defaults
SIZES = "1024x1024,2048x1365,4000x3000"


def make_photo(photos, w, h, path):
    """A w x h JPEG (quality 90): a grid of the bench photos, each resized (Lanczos) to its cell,
    about 640 x 480 cells. Deterministic for the same photos and Pillow."""
    from PIL import Image
    cols, rows = max(1, round(w / 640)), max(1, round(h / 480))
    canvas = Image.new("RGB", (w, h))
    k = 0
    for r in range(rows):
        for c in range(cols):
            x0, x1 = c * w // cols, (c + 1) * w // cols
            y0, y1 = r * h // rows, (r + 1) * h // rows
            with Image.open(photos[k % len(photos)]) as im:
                canvas.paste(im.convert("RGB").resize((x1 - x0, y1 - y0), Image.LANCZOS), (x0, y0))
            k += 1
    canvas.save(path, quality=90)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def median_ms(fns, repeats):
    """{name: median ms per call} over `repeats` rounds; every fn is called once per round, in an
    order rotated by one each round, after one warm-up call each."""
    names = list(fns)
    for n in names:
        fns[n]()
    times = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            t = time.perf_counter()
            out = fns[n]()
            times[n].append((time.perf_counter() - t) * 1e3)
            del out
    return {n: (statistics.median(v), min(v), max(v)) for n, v in times.items()}


def as_np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def same_bytes(a, b):
    a, b = as_np(a), as_np(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.ascontiguousarray(a).tobytes() == \
        np.ascontiguousarray(b).tobytes()


def max_abs_diff(a, b):
    a, b = as_np(a), as_np(b)
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default=os.path.join(os.path.dirname(ROOT), "shared", "bench", "images"))
    ap.add_argument("--data-dir", default="", help="where the generated JPEGs go (default: a temp dir)")
    ap.add_argument("--sizes", default=SIZES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-detr", action="store_true")
    ap.add_argument("--no-pair", action="store_true",
                    help="leave out the row of two 2048x1365 images in one call (a list, as VLM prompts pass them)")
    ap.add_argument("--json", default="")
    a = ap.parse_args()

    import PIL
    import torch
    import transformers
    from PIL import Image

    import pixelflow

    try:
        import torchvision  # noqa: F401
        have_tv = True
    except Exception:  # noqa: BLE001
        have_tv = False
    transformers.utils.logging.set_verbosity_error()

    photos = sorted(os.path.join(a.images, f) for f in os.listdir(a.images) if f.lower().endswith(".jpg"))
    if not photos:
        sys.exit(f"bench_vlm: no JPEGs in {a.images}")
    data_dir = a.data_dir or tempfile.mkdtemp(prefix="pixelflow-bench-vlm-")
    os.makedirs(data_dir, exist_ok=True)
    threads = [int(t) for t in a.threads.split(",")]
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); load average {load_average()}; "
          f"Python {platform.python_version()}, transformers {transformers.__version__}, Pillow {PIL.__version__}, "
          f"torch {torch.__version__}, torchvision {torchvision.__version__ if have_tv else 'not installed'}, "
          f"pixelflow {pixelflow.__version__} ({os.path.dirname(pixelflow.__file__)})")
    print(f"ms per call (one image a call but for the '2 x' row), median of {a.repeats} interleaved calls after a warm-up; "
          f"inputs in {data_dir}")

    workloads = []  # (label, class name, config folder or None, path or list of paths)
    for spec in a.sizes.split(","):
        w, h = (int(v) for v in spec.lower().split("x"))
        path = os.path.join(data_dir, f"qwen2vl_{w}x{h}.jpg")
        digest = make_photo(photos, w, h, path)
        print(f"  {os.path.basename(path)}: {w}x{h}, {os.path.getsize(path):,} bytes, sha256 {digest}")
        workloads.append((f"Qwen2-VL {w}x{h}", "Qwen2VLImageProcessor", os.path.join(MODELS, QWEN_MODEL), path))
        if (w, h) == (2048, 1365) and not a.no_pair:
            workloads.append((f"Qwen2-VL 2 x {w}x{h} in one call", "Qwen2VLImageProcessor",
                              os.path.join(MODELS, QWEN_MODEL), [path, path]))
    if not a.no_detr and hasattr(pixelflow, "DetrImageProcessor"):
        coco = next((p for p in photos if Image.open(p).size == (640, 480)), None)
        if coco is not None:
            cfg = os.path.join(MODELS, DETR_MODEL)
            workloads.append(("DETR 640x480", "DetrImageProcessor", cfg if os.path.isdir(cfg) else None, coco))
    elif not a.no_detr:
        print("  (no DETR row: this pixelflow has no DetrImageProcessor)")

    def build(mod, name, cfg):
        cls = getattr(mod, name)
        return cls.from_pretrained(cfg) if cfg else cls()

    results, ok = [], True
    for label, name, cfg, path in workloads:
        pf = build(pixelflow, name, cfg)
        hf = build(transformers, name, cfg)
        tv = build(transformers, name + "Fast", cfg) if have_tv and hasattr(transformers, name + "Fast") else None
        def load(p):  # the file case of transformers: decoding inside the timed call
            return [load(q) for q in p] if isinstance(p, list) else Image.open(p).convert("RGB")
        pil = load(path)
        ref = hf(pil, return_tensors="np")
        checks = {"pixelflow_path": pf(path, return_tensors="np"), "pixelflow_pil": pf(pil, return_tensors="np")}
        same = all(set(out.keys()) == set(ref.keys()) and all(same_bytes(out[k], ref[k]) for k in ref)
                   for out in checks.values())
        ok &= same
        tv_diff = None
        if tv is not None:
            tv_out = tv(pil, return_tensors="pt")
            tv_diff = max_abs_diff(tv_out["pixel_values"], ref["pixel_values"])
        shapes = ", ".join(f"{k} {tuple(as_np(v).shape)} {as_np(v).dtype}" for k, v in ref.items())
        print(f"{label}: {shapes}; pixelflow same bytes as the PIL backend: {same}; "
              f"torchvision backend max |diff|: {tv_diff}")
        del ref, checks
        for n in threads:
            pixelflow.set_num_threads(n)
            torch.set_num_threads(n)
            fns = {
                "pixelflow_path": lambda: pf(path, return_tensors="pt"),
                "pixelflow_pil": lambda: pf(pil, return_tensors="pt"),
                "pil_backend_path": lambda: hf(load(path), return_tensors="pt"),
                "pil_backend_pil": lambda: hf(pil, return_tensors="pt"),
            }
            if tv is not None:
                fns["torchvision_path"] = lambda: tv(load(path), return_tensors="pt")
                fns["torchvision_pil"] = lambda: tv(pil, return_tensors="pt")
            ms = median_ms(fns, a.repeats)
            results.append({"workload": label, "threads": n, "same_bytes_as_pil_backend": same,
                             "torchvision_max_abs_diff": tv_diff,
                             **{k: {"median_ms": v[0], "min_ms": v[1], "max_ms": v[2]} for k, v in ms.items()}})
        pixelflow.set_num_threads(0)

    def fmt(r, key):
        v = r.get(key)
        return "-" if v is None else f"{v['median_ms']:,.1f}"

    def ratio(r, slow, fast):
        if r.get(slow) is None or r.get(fast) is None:
            return "-"
        return f"{r[slow]['median_ms'] / r[fast]['median_ms']:.1f}x"

    print()
    print(f"CPU: {cpu_name()}; load average at the end {load_average()}")
    print("| workload | threads | input | pixelflow ms | PIL backend ms | torchvision backend ms | "
          "vs PIL | vs torchvision |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        for kind, what in (("pil", "PIL image"), ("path", "file")):
            p, h, t = f"pixelflow_{kind}", f"pil_backend_{kind}", f"torchvision_{kind}"
            print(f"| {r['workload']} | {r['threads']} | {what} | {fmt(r, p)} | {fmt(r, h)} | {fmt(r, t)} | "
                  f"{ratio(r, h, p)} | {ratio(r, t, p)} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu_name(), "repeats": a.repeats, "results": results}, f, indent=1)
    if not ok:
        print("pixelflow's outputs differ from the PIL backend's", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
