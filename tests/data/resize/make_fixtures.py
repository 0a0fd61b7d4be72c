#!/usr/bin/python3
"""Regenerates the resize fixtures with Pillow 9.4 (Debian's python3-pil) and NumPy.

Inputs are small crops of real photos (/work/shared/corpus) and a few synthetic arrays; expected
outputs are Pillow's Image.resize for every filter over a spread of sizes and windows, and Hugging
Face's image_transforms.resize semantics for float arrays (written out below from its source).
Run from this folder: /usr/bin/python3 make_fixtures.py
"""
import json
import numpy as np
import PIL
from PIL import Image

assert PIL.__version__ == "9.4.0", PIL.__version__
CORPUS = "/work/shared/corpus/"


def crop(name, mode, box):
    im = Image.open(CORPUS + name).convert(mode).crop(box)
    a = np.array(im)
    return a[..., None] if a.ndim == 2 else a


rng = np.random.default_rng(20240601)
yy, xx = np.mgrid[0:17, 0:23]
edges = np.where((xx // 3 + yy // 2) % 2 == 0, 255, 0).astype(np.uint8)
inputs = {
    "astronaut_rgb": crop("skimage_astronaut.png", "RGB", (180, 60, 241, 105)),   # 45 x 61
    "baboon_rgb": crop("opencv_baboon.jpg", "RGB", (300, 200, 329, 233)),         # 33 x 29
    "camera_l": crop("skimage_camera.png", "L", (200, 100, 252, 140)),            # 40 x 52
    "edges_rgb": np.stack([edges, 255 - edges, (xx * 11).astype(np.uint8)], axis=2),  # 17 x 23
    "pixel_rgb": np.array([[[200, 10, 90]]], np.uint8),                            # 1 x 1
    "row_l": rng.integers(0, 256, (1, 9, 1), dtype=np.uint8),                      # 1 x 9
    "column_rgb": rng.integers(0, 256, (60, 1, 3), dtype=np.uint8),                # 60 x 1
}


def pil_resize(a, oh, ow, f):
    r = np.array(Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).resize((ow, oh), resample=f))
    return r[..., None] if r.ndim == 2 else r


def window_of(full, x0, y0, w, h):
    oh, ow, c = full.shape
    out = np.zeros((h, w, c), np.uint8)
    for y in range(h):
        if 0 <= y0 + y < oh:
            for x in range(w):
                if 0 <= x0 + x < ow:
                    out[y, x] = full[y0 + y, x0 + x]
    return out


cases, blobs, offset = [], [], 0
for name, a in inputs.items():
    np.save(name + ".npy", a)
    h, w, c = a.shape
    sizes = [(max(1, h * 2 // 5), max(1, w * 2 // 5)), (h * 5 // 3 + 1, w * 7 // 4), (max(1, h // 3), w + 3),
             (h, max(1, w - 1)), (7, 5)]
    short = 11
    clip_size = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
    sizes.append(clip_size)
    for f in range(6):
        for i, (oh, ow) in enumerate(sizes):
            full = pil_resize(a, oh, ow, f)
            if i == len(sizes) - 1:   # CLIP-like: center crop 9x9 of the shortest-edge resize
                win = ((ow - 9) // 2, (oh - 9) // 2, 9, 9)
            elif i == 2:              # a window larger than the image (HF's zero-padded crop)
                win = (-2, -3, ow + 5, oh + 4)
            else:
                win = (0, 0, ow, oh)
            exp = window_of(full, *win)
            cases.append({"input": name + ".npy", "out_h": oh, "out_w": ow, "filter": f,
                          "window": list(win), "offset": offset, "size": int(exp.size)})
            blobs.append(exp.reshape(-1))
            offset += exp.size
np.save("expected_u8.npy", np.concatenate(blobs))


# Hugging Face's image_transforms.resize (PIL backend) on channels-last float arrays.
def hf_resize(image, oh, ow, f):
    if np.allclose(image, image.astype(int)):
        if not (np.all(image >= 0) and np.all(image <= 255)):
            raise ValueError("The image to be converted to a PIL image contains values outside the range [0, 255], "
                             f"got [{image.min()}, {image.max()}] which cannot be converted to uint8.")
        do_rescale = False
    elif np.all(image >= 0) and np.all(image <= 1):
        do_rescale = True
    else:
        raise ValueError("The image to be converted to a PIL image contains values outside the range [0, 1], "
                         f"got [{image.min()}, {image.max()}] which cannot be converted to uint8.")
    im = image
    if do_rescale:
        im = (im.astype(np.float64) * 255).astype(np.float32)
    r = pil_resize(im.astype(np.uint8), oh, ow, f)
    if do_rescale:
        r = (r.astype(np.float64) * (1 / 255)).astype(np.float32)
    return r


base = inputs["baboon_rgb"][:12, :10]
floats = {
    "float_unit_f32": (rng.random((12, 10, 3)).astype(np.float32), 7, 9, 3),
    "float_unit_f64": (rng.random((13, 8, 1)), 20, 5, 2),
    "float_integral_f64": (base.astype(np.float64), 5, 8, 1),
    "float_binary_f32": (rng.integers(0, 2, (9, 9, 3)).astype(np.float32), 4, 4, 0),
    "float_over_one_f32": ((rng.random((6, 5, 3)) * 1.5).astype(np.float32), 3, 3, 3),
    "float_negative_f64": (base.astype(np.float64) - 200, 3, 3, 3),
}
float_cases = []
for name, (a, oh, ow, f) in floats.items():
    np.save(name + ".npy", a)
    entry = {"input": name + ".npy", "out_h": oh, "out_w": ow, "filter": f}
    try:
        r = hf_resize(a, oh, ow, f)
        np.save(name + "_expected.npy", r)
        entry["expected"] = name + "_expected.npy"
    except ValueError as e:
        entry["error"] = str(e)
    float_cases.append(entry)

with open("cases.json", "w") as fh:
    json.dump({"pillow": PIL.__version__, "u8": cases, "float": float_cases}, fh, indent=0)
print(len(cases), "uint8 cases,", offset, "expected bytes;", len(float_cases), "float cases")
