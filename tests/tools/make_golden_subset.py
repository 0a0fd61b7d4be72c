#!/usr/bin/python3
"""Regenerates tests/data/golden/ from ../shared/golden: the golden cases whose inputs are small
corpus images, with each expected output reduced to its shape, dtype and the SHA-256 of its
C-ordered bytes (so that the test suite checks bit-exactness without the shared folder).

Usage (from the project root): /usr/bin/python3 tests/tools/make_golden_subset.py [--shared ../shared]
"""
import argparse, hashlib, json, os, shutil
import numpy as np

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
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    cases = [json.loads(l) for l in open(os.path.join(gdir, "cases.jsonl"))]
    kept = []
    for c in cases:
        ins = flat(c["inputs"]) + flat(c.get("segmentation_maps") or [])
        if c["structure"] not in ("single", "list") or not ins:
            continue
        if not all(x["kind"] in ("image", "load_image") and os.path.basename(x["path"]) in SMALL_IMAGES
                   for x in ins):
            continue
        npz = np.load(os.path.join(gdir, c["npz"])) if c.get("npz") else {}
        rec = {
            "id": c["id"],
            "processor_class": c["processor_class"],
            "model": os.path.basename(os.path.dirname(c["config"])),
            "call_kwargs": c["call_kwargs"],
            "inputs": [{"kind": x["kind"], "file": os.path.basename(x["path"])} for x in flat(c["inputs"])],
        }
        if c.get("segmentation_maps"):
            rec["segmentation_maps"] = [os.path.basename(x["path"]) for x in flat(c["segmentation_maps"])]
        if c.get("error"):
            rec["error"] = c["error"]["message"][:200]
        else:
            rec["outputs"] = []
            for o in c["outputs"]:
                arr = np.ascontiguousarray(npz[o["npz_key"]])
                rec["outputs"].append({"name": o["name"], "shape": list(arr.shape), "dtype": str(arr.dtype),
                                       "sha256": hashlib.sha256(arr.tobytes()).hexdigest()})
        for x in ins:
            shutil.copyfile(os.path.join(a.shared, "..", x["path"]),
                            os.path.join(out_dir, "images", os.path.basename(x["path"])))
        kept.append(rec)
    with open(os.path.join(out_dir, "cases.jsonl"), "w") as f:
        for r in kept:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    print(f"{len(kept)} cases written to {os.path.normpath(out_dir)}")


if __name__ == "__main__":
    main()
