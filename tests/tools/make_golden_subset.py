#!/usr/bin/python3
"""Regenerates tests/data/golden/ from ../shared/golden: the golden cases whose inputs are small
corpus images, with each expected output reduced to its shape, dtype and the SHA-256 of its
C-ordered bytes (so that the test suite checks bit-exactness without the shared folder).

Usage (from the project root): /usr/bin/python3 tests/tools/make_golden_subset.py [--shared ../shared]
"""
import argparse, hashlib, json, os, shutil
import numpy as np

MAX_ARRAY_BYTES = 160_000

SMALL_IMAGES = {
    "opencv_HappyFish.jpg", "jpegdec_jpg-cmyk-2.jpg", "skimage_microaneurysms.png",
    "opencv_scenetext_word01.jpg", "opencv_scenetext_char01.jpg",
    "mpl_Minduka_Present_Blue_Pack.png", "opencv_left01.jpg",
}


def flat(inputs):
    return [x for x in inputs for x in (x if isinstance(x, list) else [x])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "../../../shared"))
    a = ap.parse_args()
    gdir = os.path.join(a.shared, "golden")
    out_dir = os.path.join(os.path.dirname(__file__), "../data/golden")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "arrays"), exist_ok=True)
    cases = [json.loads(l) for l in open(os.path.join(gdir, "cases.jsonl"))]
    kept = []

    def small(x, npz):
        if x["kind"] in ("image", "load_image"):
            return os.path.basename(x["path"]) in SMALL_IMAGES
        return x["kind"] == "array" and npz[x["npz_key"]].nbytes <= MAX_ARRAY_BYTES

    def materialize(x, npz):
        """The input as a file name under images/ or arrays/ (arrays deduplicated by content)."""
        if x["kind"] in ("image", "load_image"):
            name = os.path.basename(x["path"])
            shutil.copyfile(os.path.join(a.shared, "..", x["path"]), os.path.join(out_dir, "images", name))
            return {"kind": x["kind"], "file": "images/" + name}
        arr = np.ascontiguousarray(npz[x["npz_key"]])
        name = hashlib.sha256(arr.tobytes() + str(arr.shape).encode()).hexdigest()[:16] + ".npy"
        np.save(os.path.join(out_dir, "arrays", name), arr)
        return {"kind": "array", "file": "arrays/" + name}

    for c in cases:
        if c["structure"] == "postprocess":
            continue
        npz = np.load(os.path.join(gdir, c["npz"])) if c.get("npz") else {}
        ins = flat(c["inputs"]) + flat(c.get("segmentation_maps") or [])
        if not ins or not all(small(x, npz) for x in ins):
            continue
        rec = {
            "id": c["id"],
            "processor_class": c["processor_class"],
            "structure": c["structure"],
            "model": os.path.basename(os.path.dirname(c["config"])),
            "call_kwargs": c["call_kwargs"],
        }
        if c["structure"] == "videos":
            rec["inputs"] = [[materialize(x, npz) for x in v] for v in c["inputs"]]
        else:
            rec["inputs"] = [materialize(x, npz) for x in c["inputs"]]
        if c.get("segmentation_maps"):
            rec["segmentation_maps"] = [materialize(x, npz) for x in flat(c["segmentation_maps"])]
        if c.get("error"):
            # What Hugging Face raised: its exception type and message (the condition the test
            # maps to pixelflow's error type; the file the error must name is the case's input).
            rec["error"] = {"type": c["error"]["type"], "message": c["error"]["message"][:200]}
        else:
            rec["outputs"] = []
            for o in c["outputs"]:
                arr = np.ascontiguousarray(npz[o["npz_key"]])
                rec["outputs"].append({"name": o["name"], "shape": list(arr.shape), "dtype": str(arr.dtype),
                                       "sha256": hashlib.sha256(arr.tobytes()).hexdigest()})
        kept.append(rec)
    with open(os.path.join(out_dir, "cases.jsonl"), "w") as f:
        for r in kept:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    print(f"{len(kept)} cases written to {os.path.normpath(out_dir)}")


if __name__ == "__main__":
    main()
