"""pixelflow's Python package against transformers' image processors, in one run.

For each processor (CLIP, ViT by default), 32-image batches from a folder of JPEGs, given as
PIL images (opened and decoded beforehand: processing only) and as paths (decoding included: for
transformers, PIL.Image.open + load inside the timed loop), with 1 and 2 threads:
  - pixelflow (pixelflow.set_num_threads(n));
  - transformers' PIL backend (the slow XImageProcessor; pure Python/NumPy/PIL, one thread
    whatever n is: the GIL);
  - transformers' torchvision backend (XImageProcessorFast; torch.set_num_threads(n)), when
    torchvision is installed.
Prints images per second, the ratios, and whether the outputs are the same bytes as the PIL
backend's (pixelflow must be; the torchvision backend is not, its max |diff| is shown).

    python bench/python/bench_processors.py [--images DIR] [--batch 32] [--seconds 3]
        [--processors clip,vit] [--threads 1,2] [--json OUT]

Install: bench/python/setup_venv.sh makes build/venv-bench with torch + torchvision (a large
download-free install from the local wheels), transformers and pixelflow.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from bench_common import cpu_name

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODELS = os.path.join(ROOT, "pipelines", "models")
PROCESSORS = {
    "clip": ("CLIPImageProcessor", "openai__clip-vit-base-patch32"),
    "vit": ("ViTImageProcessor", "google__vit-base-patch16-224"),
    "convnext": ("ConvNextImageProcessor", "facebook__convnext-tiny-224"),
    "segformer": ("SegformerImageProcessor", "nvidia__segformer-b0-finetuned-ade-512-512"),
}


def rate(fn, n_images, seconds):
    """Images per second of fn() (one batch of n_images), best of repeated timings."""
    fn()  # warm-up (caches, pools, lazy imports)
    best, spent, runs = float("inf"), 0.0, 0
    while spent < seconds or runs < 3:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best = min(best, dt)
        spent += dt
        runs += 1
    return n_images / best


def py_threads(proc, images, n):
    """One batch split over n Python threads calling the same processor at once."""
    import threading
    parts = [images[i::n] for i in range(n)]
    threads = [threading.Thread(target=proc, args=(p,), kwargs={"return_tensors": "pt"}) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_images = os.path.join(os.path.dirname(ROOT), "shared", "bench", "images")
    ap.add_argument("--images", default=default_images)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--processors", default="clip,vit")
    ap.add_argument("--threads", default="1,2")
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
    except Exception:
        have_tv = False

    files = sorted(os.path.join(a.images, f) for f in os.listdir(a.images)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))[: a.batch]
    if len(files) < a.batch:
        sys.exit(f"bench: {a.images} has {len(files)} images, need {a.batch}")
    pil = []
    for f in files:
        im = Image.open(f)
        im.load()
        pil.append(im)
    threads = [int(t) for t in a.threads.split(",")]
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); Python {platform.python_version()}, "
          f"transformers {transformers.__version__}, Pillow {PIL.__version__}, torch {torch.__version__}, "
          f"torchvision {'yes' if have_tv else 'not installed'}, pixelflow {pixelflow.__version__}")
    print(f"{len(files)} images per batch from {a.images}; images/s, best of >= {a.seconds:g} s per figure")
    results = []
    for key in a.processors.split(","):
        cls, folder = PROCESSORS[key]
        path = os.path.join(MODELS, folder)
        pf = getattr(pixelflow, cls).from_pretrained(path)
        hf = getattr(transformers, cls).from_pretrained(path)
        tv = getattr(transformers, cls + "Fast").from_pretrained(path) if have_tv else None
        ref = hf(pil, return_tensors="np")["pixel_values"]
        same_pil = np.array_equal(pf(pil, return_tensors="np")["pixel_values"], ref)
        same_paths = np.array_equal(pf(files, return_tensors="np")["pixel_values"], ref)
        tv_diff = None
        if tv is not None:
            tv_out = tv(pil, return_tensors="pt")["pixel_values"].numpy()
            tv_diff = float(np.max(np.abs(tv_out.astype(np.float64) - ref))) if tv_out.shape == ref.shape else None
        for n in threads:
            pixelflow.set_num_threads(n)
            torch.set_num_threads(n)
            row = {"processor": cls, "threads": n}
            row["pixelflow_pil"] = rate(lambda: pf(pil, return_tensors="pt"), len(pil), a.seconds)
            row["pixelflow_paths"] = rate(lambda: pf(files, return_tensors="pt"), len(files), a.seconds)
            if n > 1:  # n Python threads sharing one processor, each call on one oneTBB worker
                pixelflow.set_num_threads(1)
                row["pixelflow_pil_py_threads"] = rate(lambda: py_threads(pf, pil, n), len(pil), a.seconds)
                pixelflow.set_num_threads(n)
            row["pil_backend_pil"] = rate(lambda: hf(pil, return_tensors="pt"), len(pil), a.seconds)
            row["pil_backend_paths"] = rate(
                lambda: hf([Image.open(f) for f in files], return_tensors="pt"), len(files), a.seconds)
            if tv is not None:
                row["torchvision_pil"] = rate(lambda: tv(pil, return_tensors="pt"), len(pil), a.seconds)
                row["torchvision_paths"] = rate(
                    lambda: tv([Image.open(f) for f in files], return_tensors="pt"), len(files), a.seconds)
            row["same_bytes_as_pil_backend"] = bool(same_pil and same_paths)
            row["torchvision_max_abs_diff"] = tv_diff
            results.append(row)
        pixelflow.set_num_threads(0)

    print()
    print("| processor | threads | input | pixelflow | PIL backend | torchvision backend | vs PIL | vs torchvision |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        for kind in ("pil", "paths"):
            p, h = r[f"pixelflow_{kind}"], r[f"pil_backend_{kind}"]
            t = r.get(f"torchvision_{kind}")
            print(f"| {r['processor']} | {r['threads']} | {'PIL images' if kind == 'pil' else 'paths'} | {p:,.0f} | "
                  f"{h:,.0f} | {'-' if t is None else f'{t:,.0f}'} | {p / h:.1f}x | "
                  f"{'-' if t is None else f'{p / t:.1f}x'} |")
    for r in results:
        if "pixelflow_pil_py_threads" in r:
            print(f"{r['processor']}: {r['threads']} Python threads on one processor (1 worker each), PIL images: "
                  f"{r['pixelflow_pil_py_threads']:,.0f} images/s")
    for r in results:
        if r["threads"] == threads[0]:
            print(f"{r['processor']}: pixelflow same bytes as the PIL backend: {r['same_bytes_as_pil_backend']}; "
                  f"torchvision backend max |diff| vs PIL backend: {r['torchvision_max_abs_diff']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu_name(), "results": results}, f, indent=1)
    sys.exit(0 if all(r["same_bytes_as_pil_backend"] for r in results) else 1)


if __name__ == "__main__":
    main()
