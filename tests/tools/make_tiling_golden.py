#!/usr/bin/env python3
"""Writes tests/data/golden_vlm/tiling/: goldens of the tiling VLM processors and the DETR family
(GotOcr2, Gemma3, LlavaNext, LlavaOnevision, Idefics3, SmolVLM, Detr, ConditionalDetr, DeformableDetr, Yolos,
RTDetr)
made with transformers' PIL backend, for the C++ tests (tests/pipelines/test_golden_vlm.cpp) and
tests/python/test_golden_vlm.py.

Same format as tests/data/golden_vlm/qwen2vl (see its README and make_qwen2vl_golden.py, whose
image generator this reuses), with the class per case, outputs as shape / dtype / SHA-256 only (no
.npy copies: the folder stays small), and "groups" (LLaVA-OneVision's, Idefics3's and SmolVLM's
samples of several images:
lists of input indices, passed to transformers as nested lists and to PreparedCall::run_groups).
Configs are small versions of the bundled ones (small sizes and grid resolutions).

Usage (from the project root, with the venv that has transformers 5.0.0 and Pillow):
    build/venv/bin/python tests/tools/make_tiling_golden.py
Re-running it with the same versions changes no byte.
"""
import copy
import hashlib
import json
import os
import shutil
import sys
import warnings

import numpy as np
import PIL
import PIL.Image
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_qwen2vl_golden import _pixels  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "data", "golden_vlm", "tiling")
MODELS = os.path.join(ROOT, "pipelines", "models")
MAX_FOLDER_BYTES = 200_000


def bundled(folder, **kv):
    with open(os.path.join(MODELS, folder, "preprocessor_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    for k, v in kv.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


CONFIGS = {
    "got_ocr2_tiles": bundled("stepfun-ai__GOT-OCR-2.0-hf", size={"height": 24, "width": 24}, crop_to_patches=True,
                              min_patches=1, max_patches=6),
    "got_ocr2_plain": bundled("stepfun-ai__GOT-OCR-2.0-hf", size={"height": 20, "width": 28}),
    "gemma3_pan_and_scan": bundled("google__gemma-3-4b-it", size={"height": 24, "width": 24}, do_pan_and_scan=True,
                                   pan_and_scan_min_crop_size=8, pan_and_scan_max_num_crops=4,
                                   pan_and_scan_min_ratio_to_activate=1.2),
    "llava_next_small": bundled("llava-hf__llava-v1.6-mistral-7b-hf", size={"shortest_edge": 24},
                                crop_size={"height": 24, "width": 24},
                                image_grid_pinpoints=[[24, 48], [48, 24], [48, 48], [72, 24], [24, 72]]),
    "llava_onevision_small": bundled("llava-hf__llava-onevision-qwen2-7b-ov-hf", size={"height": 24, "width": 24},
                                     image_grid_pinpoints=[[24, 24], [24, 48], [48, 24], [48, 48], [24, 72]],
                                     image_mean=[0.48145466, 0.4578275, 0.40821073]),
    "llava_onevision_hw": bundled("llava-hf__llava-onevision-qwen2-7b-ov-hf", size={"height": 20, "width": 28},
                                  image_grid_pinpoints=[[20, 40], [40, 20], [40, 40]]),
    "idefics3_small": bundled("HuggingFaceM4__Idefics3-8B-Llama3", size={"longest_edge": 48},
                              max_image_size={"longest_edge": 16}),
    "smolvlm_small": bundled("HuggingFaceTB__SmolVLM2-2.2B-Instruct", size={"longest_edge": 40},
                             max_image_size={"longest_edge": 20}),
    "detr_small": bundled("facebook__detr-resnet-50", size={"shortest_edge": 24, "longest_edge": 40}),
    "conditional_detr_small": bundled("microsoft__conditional-detr-resnet-50",
                                      size={"shortest_edge": 20, "longest_edge": 48}),
    "deformable_detr_small": bundled("SenseTime__deformable-detr", size={"shortest_edge": 28, "longest_edge": 36}),
    "yolos_small": bundled("hustvl__yolos-small", size={"shortest_edge": 32, "longest_edge": 64}),
    "rt_detr_small": bundled("PekingU__rtdetr_r50vd", size={"height": 32, "width": 32}),
}

IMAGES = {
    "rgb_27x29.png": ("RGB", 29, 27, 1),   # (name: W x H) -> mode, H, W, seed
    "rgb_64x48.png": ("RGB", 48, 64, 2),
    "rgb_100x20.png": ("RGB", 20, 100, 3),  # aspect ratio 5 (pan and scan, wide grids)
    "rgb_20x70.png": ("RGB", 70, 20, 4),    # portrait
    "gray_40x30.png": ("L", 30, 40, 5),
    "photo_96x64.jpg": ("RGB", 64, 96, 9),  # quality 90
}

CASES = [
    # id, config, input files, call kwargs[, groups]
    ("got_ocr2_tiles_list", "got_ocr2_tiles", ["rgb_64x48.png", "rgb_100x20.png", "rgb_20x70.png"],
     {"return_tensors": "np"}),
    ("got_ocr2_tiles_call_max", "got_ocr2_tiles", ["photo_96x64.jpg"], {"return_tensors": "np", "max_patches": 3}),
    ("got_ocr2_plain", "got_ocr2_plain", ["rgb_27x29.png", "gray_40x30.png"], {"return_tensors": "np"}),
    ("gemma3_pan_and_scan", "gemma3_pan_and_scan", ["rgb_100x20.png", "rgb_27x29.png", "rgb_20x70.png"],
     {"return_tensors": "np"}),
    ("llava_next_pad", "llava_next_small", ["rgb_64x48.png", "rgb_100x20.png", "rgb_20x70.png"],
     {"return_tensors": "np"}),
    ("llava_next_jpeg", "llava_next_small", ["photo_96x64.jpg"], {"return_tensors": "np"}),
    ("llava_onevision_list", "llava_onevision_small", ["rgb_64x48.png", "rgb_100x20.png", "gray_40x30.png"],
     {"return_tensors": "np"}),
    ("llava_onevision_groups", "llava_onevision_small",
     ["rgb_27x29.png", "rgb_100x20.png", "rgb_20x70.png", "photo_96x64.jpg"], {"return_tensors": "np"},
     [[0], [1, 2, 3]]),
    ("llava_onevision_hw", "llava_onevision_hw", ["rgb_64x48.png", "rgb_20x70.png"],
     {"return_tensors": "np", "image_mean": [0.25, 0.5, 0.75]}, [[0, 1]]),
    # Idefics3 / SmolVLM: samples only (a flat list is one sample in transformers, a sample per image in
    # PreparedCall::run); an empty sample is all padding frames; a gray image (not first) is "P" for the resize.
    ("idefics3_groups", "idefics3_small", ["rgb_64x48.png", "rgb_100x20.png", "gray_40x30.png", "rgb_20x70.png"],
     {"return_tensors": "np"}, [[0, 1], [], [2, 3]]),
    ("idefics3_no_splitting", "idefics3_small", ["rgb_27x29.png", "photo_96x64.jpg"],
     {"return_tensors": "np", "do_image_splitting": False, "data_format": "channels_last"}, [[0], [1, 0]]),
    ("smolvlm_groups", "smolvlm_small", ["photo_96x64.jpg", "rgb_20x70.png", "gray_40x30.png"],
     {"return_tensors": "np"}, [[0], [1, 2]]),
    ("smolvlm_no_pad", "smolvlm_small", ["photo_96x64.jpg", "rgb_64x48.png"],
     {"return_tensors": "np", "do_pad": False, "do_normalize": False}, [[0], [1]]),
    ("detr_pad", "detr_small", ["rgb_64x48.png", "rgb_100x20.png", "rgb_20x70.png"], {"return_tensors": "np"}),
    ("conditional_detr_pad", "conditional_detr_small", ["photo_96x64.jpg", "rgb_27x29.png"], {"return_tensors": "np"}),
    ("deformable_detr_pad", "deformable_detr_small", ["rgb_27x29.png", "rgb_100x20.png"], {"return_tensors": "np"}),
    ("yolos_pad", "yolos_small", ["rgb_64x48.png", "rgb_27x29.png"], {"return_tensors": "np"}),
    ("rt_detr", "rt_detr_small", ["photo_96x64.jpg", "rgb_100x20.png"], {"return_tensors": "np"}),
]


def class_of(cfg):
    """The class transformers loads the config as (the DETR family's legacy files name a feature
    extractor)."""
    if "image_processor_type" in cfg:
        return cfg["image_processor_type"]
    return cfg["feature_extractor_type"].replace("FeatureExtractor", "ImageProcessor")


def write_images():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    for name, (mode, h, w, seed) in IMAGES.items():
        c = {"RGB": 3, "L": 1}[mode]
        a = _pixels(h, w, c, seed)
        img = PIL.Image.fromarray(a[..., 0] if c == 1 else a, mode)
        path = os.path.join(OUT, "images", name)
        if name.endswith(".jpg"):
            img.save(path, quality=90)
        else:
            img.save(path, optimize=False)


def run_transformers(cfg, files, kwargs, groups):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proc = getattr(transformers, class_of(cfg)).from_dict(copy.deepcopy(cfg))
        images = [PIL.Image.open(os.path.join(OUT, "images", f)) for f in files]
        if groups is not None:
            images = [[images[i] for i in g] for g in groups]
        return proc(images, **copy.deepcopy(kwargs))


def main():
    transformers.utils.logging.set_verbosity_error()
    for sub in ("images", "configs"):  # README.md stays
        shutil.rmtree(os.path.join(OUT, sub), ignore_errors=True)
    os.makedirs(os.path.join(OUT, "configs"))
    write_images()
    for name, cfg in CONFIGS.items():
        with open(os.path.join(OUT, "configs", name + ".json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")
    records = []
    for case_id, cfg_name, files, kwargs, *rest in CASES:
        groups = rest[0] if rest else None
        cfg = CONFIGS[cfg_name]
        rec = {
            "id": case_id,
            "processor_class": class_of(cfg),
            "structure": "groups" if groups is not None else "list",
            "config": f"configs/{cfg_name}.json",
            "call_kwargs": kwargs,
            "inputs": [{"kind": "image", "file": "images/" + f} for f in files],
        }
        if groups is not None:
            rec["groups"] = groups
        out = run_transformers(cfg, files, kwargs, groups)
        rec["outputs"] = []
        for key in sorted(out.keys()):
            arr = np.ascontiguousarray(np.asarray(out[key]))
            rec["outputs"].append({"name": key, "shape": list(arr.shape), "dtype": str(arr.dtype),
                                   "sha256": hashlib.sha256(arr.tobytes()).hexdigest()})
        records.append(rec)
    with open(os.path.join(OUT, "cases.jsonl"), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    versions = f"transformers {transformers.__version__}, Pillow {PIL.__version__}, NumPy {np.__version__}"
    print(f"{len(records)} cases, {total} bytes in {os.path.relpath(OUT, ROOT)} ({versions})")
    assert total <= MAX_FOLDER_BYTES, f"the golden folder is {total} bytes: keep it under {MAX_FOLDER_BYTES}"


if __name__ == "__main__":
    main()
