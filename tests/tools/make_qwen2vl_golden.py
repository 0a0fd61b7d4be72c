#!/usr/bin/env python3
"""Writes tests/data/golden_vlm/qwen2vl/: Qwen2VLImageProcessor goldens made with transformers' PIL
backend (transformers.Qwen2VLImageProcessor), for the C++ tests.

The inputs are small images generated here deterministically (smooth gradients with noise and a
few hard edges, saved as PNG, one JPEG); each case is a config file, call kwargs and either the
expected outputs (shape, dtype and SHA-256 of the C-ordered bytes, as tests/data/golden/cases.jsonl
has them, plus the array itself as .npy for debugging) or the error transformers raised. Configs
use small max_pixels so that the outputs (and the folder, under 1.5 MB) stay small.

Usage (from the project root, with the venv that has transformers 5.0.0 and Pillow):
    build/venv/bin/python tests/tools/make_qwen2vl_golden.py
Re-running it rewrites the folder (README.md stays); with the same transformers / Pillow / NumPy versions the
outputs are identical (check with git diff).
"""
import copy
import hashlib
import json
import os
import shutil
import warnings

import numpy as np
import PIL
import PIL.Image
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "data", "golden_vlm", "qwen2vl")
BUNDLED = os.path.join(ROOT, "pipelines", "models", "Qwen__Qwen2-VL-7B-Instruct", "preprocessor_config.json")
CLASS = "Qwen2VLImageProcessor"
MAX_FOLDER_BYTES = 1_500_000

# The bundled Qwen2-VL-7B-Instruct config (as on the Hub); used when the bundled file is absent.
QWEN2_VL_7B = {
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "Qwen2VLImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "max_pixels": 12845056,
    "merge_size": 2,
    "min_pixels": 3136,
    "patch_size": 14,
    "processor_class": "Qwen2VLProcessor",
    "temporal_patch_size": 2,
}


def bundled():
    if os.path.exists(BUNDLED):
        with open(BUNDLED, encoding="utf-8") as f:
            cfg = json.load(f)
        assert cfg == QWEN2_VL_7B, "the bundled config changed: update QWEN2_VL_7B"
    return copy.deepcopy(QWEN2_VL_7B)


def with_keys(cfg, **kv):
    cfg = copy.deepcopy(cfg)
    for k, v in kv.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


# ---- configs (configs/<name>.json) ------------------------------------------------------------

CONFIGS = {
    "bundled": bundled(),
    # min 28 * 28, max 28 * 28 * 4: at most 16 patch rows an image
    "small": with_keys(bundled(), min_pixels=28 * 28, max_pixels=28 * 28 * 4),
    "small_16": with_keys(bundled(), min_pixels=28 * 28, max_pixels=28 * 28 * 16),
    "t1_merge1": with_keys(bundled(), temporal_patch_size=1, merge_size=1, min_pixels=14 * 14,
                           max_pixels=14 * 14 * 16),
    "t3": with_keys(bundled(), temporal_patch_size=3, min_pixels=28 * 28, max_pixels=28 * 28 * 4),
    # Qwen3-VL's config (patch 16, mean / std 0.5, size instead of min / max pixels), small pixel counts
    "qwen3_style_small": {"image_processor_type": "Qwen2VLImageProcessor", "patch_size": 16,
                          "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5, 0.5, 0.5],
                          "image_std": [0.5, 0.5, 0.5], "size": {"shortest_edge": 32 * 32, "longest_edge": 32 * 32 * 4},
                          "do_convert_rgb": True},
    "no_resize": with_keys(bundled(), do_resize=False),
    "uint8_values": with_keys(bundled(), do_rescale=False, do_normalize=False, min_pixels=28 * 28,
                              max_pixels=28 * 28 * 4),
    "bilinear_small": with_keys(bundled(), resample=2, min_pixels=28 * 28, max_pixels=28 * 28 * 4),
}


# ---- images (images/<name>) ---------------------------------------------------------------------

def _pixels(h, w, c, seed):
    """Smooth gradients, noise and a hard-edged square (resampling overshoot and clamping)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([(x * (97 + 13 * k) / max(w, 1) + y * (61 + 29 * k) / max(h, 1) + 40 * k) % 256
                     for k in range(c)], axis=-1)
    img = base + rng.normal(0, 18, (h, w, c))
    img[h // 4: h // 2 + 1, w // 4: w // 2 + 1] = [255 if k % 2 == 0 else 0 for k in range(c)]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


IMAGES = {
    "rgb_27x29.png": ("RGB", 29, 27, 1),      # (name: W x H) -> mode, H, W, seed
    "rgb_64x48.png": ("RGB", 48, 64, 2),
    "rgb_100x20.png": ("RGB", 20, 100, 3),    # aspect ratio 5
    "rgb_20x150.png": ("RGB", 150, 20, 4),    # aspect ratio 7.5, portrait
    "gray_40x30.png": ("L", 30, 40, 5),       # converted to RGB (do_convert_rgb)
    "rgba_33x50.png": ("RGBA", 50, 33, 6),    # alpha composited on white by convert_rgb
    "rgb_56x28.png": ("RGB", 28, 56, 7),      # multiples of 28: taken without resizing
    "rgb_1x201.png": ("RGB", 201, 1, 8),      # aspect ratio 201: smart_resize refuses it
    "photo_96x64.jpg": ("RGB", 64, 96, 9),    # quality 90
}


def write_images():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    for name, (mode, h, w, seed) in IMAGES.items():
        c = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        a = _pixels(h, w, c, seed)
        if mode == "RGBA":
            a[..., 3] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]  # alpha ramp
        img = PIL.Image.fromarray(a[..., 0] if c == 1 else a, mode)
        path = os.path.join(OUT, "images", name)
        if name.endswith(".jpg"):
            img.save(path, quality=90)
        else:
            img.save(path, optimize=False)


# ---- cases --------------------------------------------------------------------------------------

CASES = [
    # id, config, input files, call kwargs
    ("bundled_27x29", "bundled", ["rgb_27x29.png"], {"return_tensors": "np"}),  # scaled up to min_pixels
    ("bundled_call_max_pixels", "bundled", ["rgb_64x48.png"], {"max_pixels": 28 * 28 * 4}),
    ("bundled_call_size", "bundled", ["rgb_100x20.png"],
     {"size": {"shortest_edge": 28 * 28, "longest_edge": 28 * 28 * 4}, "return_tensors": "np"}),
    ("small_jpeg", "small", ["photo_96x64.jpg"], {"return_tensors": "np"}),
    ("small_list", "small", ["rgb_27x29.png", "rgb_100x20.png", "gray_40x30.png", "rgb_20x150.png"],
     {"return_tensors": "np"}),
    ("small_rgba", "small", ["rgba_33x50.png"], {}),
    ("small_call_min_pixels", "small", ["rgb_27x29.png"], {"min_pixels": 28 * 28 * 2}),
    ("small_channels_last", "small", ["rgb_64x48.png"], {"data_format": "channels_last"}),
    ("small_16_photo", "small_16", ["photo_96x64.jpg"], {"return_tensors": "np"}),
    ("t1_merge1", "t1_merge1", ["rgb_64x48.png", "rgb_20x150.png"], {"return_tensors": "np"}),
    ("t3", "t3", ["rgb_100x20.png"], {"return_tensors": "np"}),
    ("qwen3_style", "qwen3_style_small", ["photo_96x64.jpg", "rgb_27x29.png"], {"return_tensors": "np"}),
    ("no_resize_56x28", "no_resize", ["rgb_56x28.png"], {"return_tensors": "np"}),
    ("uint8_values", "uint8_values", ["rgb_64x48.png"], {"return_tensors": "np"}),
    ("bilinear", "bilinear_small", ["rgb_20x150.png"], {"return_tensors": "np"}),
    ("call_geometry", "small", ["rgb_64x48.png"], {"patch_size": 16, "merge_size": 1, "temporal_patch_size": 1}),
    # errors
    ("error_aspect_201", "bundled", ["rgb_1x201.png"], {"return_tensors": "np"}),
    ("error_no_resize_27x29", "no_resize", ["rgb_27x29.png"], {"return_tensors": "np"}),
    ("error_second_image_aspect", "small", ["rgb_27x29.png", "rgb_1x201.png"], {"return_tensors": "np"}),
]


def run_transformers(cfg, files, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proc = transformers.Qwen2VLImageProcessor.from_dict(copy.deepcopy(cfg))
        images = [PIL.Image.open(os.path.join(OUT, "images", f)) for f in files]
        return proc(images if len(images) > 1 else images[0], **copy.deepcopy(kwargs))


def _raises(cfg, file, kwargs):
    try:
        run_transformers(cfg, [file], kwargs)
    except Exception:  # noqa: BLE001
        return True
    return False


def main():
    transformers.utils.logging.set_verbosity_error()
    for sub in ("images", "configs", "arrays"):  # README.md stays
        shutil.rmtree(os.path.join(OUT, sub), ignore_errors=True)
    os.makedirs(os.path.join(OUT, "configs"))
    os.makedirs(os.path.join(OUT, "arrays"))
    write_images()
    for name, cfg in CONFIGS.items():
        with open(os.path.join(OUT, "configs", name + ".json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")
    records = []
    for case_id, cfg_name, files, kwargs in CASES:
        rec = {
            "id": case_id,
            "processor_class": CLASS,
            "structure": "single" if len(files) == 1 else "list",
            "config": f"configs/{cfg_name}.json",
            "call_kwargs": kwargs,
            "inputs": [{"kind": "image", "file": "images/" + f} for f in files],
        }
        try:
            out = run_transformers(CONFIGS[cfg_name], files, kwargs)
        except Exception as e:  # noqa: BLE001 - the error is the golden
            # and the input it is about: the first that fails on its own (each image is processed
            # on its own), which the error pixelflow raises must name
            failing = next(i for i, f in enumerate(files) if _raises(CONFIGS[cfg_name], f, kwargs))
            rec["error"] = {"type": type(e).__name__, "message": str(e)[:200], "input": failing}
            records.append(rec)
            continue
        rec["outputs"] = []
        for key in ("pixel_values", "image_grid_thw"):
            arr = np.ascontiguousarray(np.asarray(out[key]))
            npy = f"arrays/{case_id}.{key}.npy"
            np.save(os.path.join(OUT, npy), arr)
            rec["outputs"].append({"name": key, "shape": list(arr.shape), "dtype": str(arr.dtype),
                                   "sha256": hashlib.sha256(arr.tobytes()).hexdigest(), "file": npy})
        records.append(rec)
    with open(os.path.join(OUT, "cases.jsonl"), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    versions = f"transformers {transformers.__version__}, Pillow {PIL.__version__}, NumPy {np.__version__}"
    print(f"{len(records)} cases ({sum('error' in r for r in records)} errors), {total} bytes in "
          f"{os.path.relpath(OUT, ROOT)} ({versions})")
    assert total <= MAX_FOLDER_BYTES, f"the golden folder is {total} bytes: keep it under {MAX_FOLDER_BYTES}"


if __name__ == "__main__":
    main()
