"""Turns what a caller passes as images (PIL images, NumPy arrays, torch tensors, paths, encoded
bytes, lists and nested lists of them) into the input specs of pixelflow._core: tuples
(kind, value, name[, label]) with kind "path", "bytes" or "array".

Each input is handed over as transformers' PIL backend would see it:
  - PIL images: ``np.asarray(img)`` (what ``to_numpy_array`` gives), after ``img.convert("RGB")``
    when the processor converts to RGB and the image is not RGB already (transformers'
    ``convert_rgb``, done by PIL itself, so every mode gives PIL's own result);
  - NumPy arrays and CPU torch tensors: the array itself (no copy when C-contiguous; never
    written to);
  - paths (str / os.PathLike) and bytes: decoded by pixelflow exactly as ``PIL.Image.open``.
"""
from __future__ import annotations

import os

import numpy as np

from . import _core

# NumPy dtypes pixelflow computes in; others are converted when the values are kept exactly
# (int8/int16 -> int32, uint32 -> int64) or refused.
_NATIVE = {np.dtype(t) for t in ("bool", "uint8", "uint16", "int32", "int64", "float32", "float64")}
_WIDEN = {np.dtype("int8"): np.int32, np.dtype("int16"): np.int32, np.dtype("uint32"): np.int64}

try:  # PIL is optional: without it, PIL images cannot be passed anyway
    import PIL.Image as _PILImage
except ImportError:  # pragma: no cover
    _PILImage = None


def is_pil_image(x):
    return _PILImage is not None and isinstance(x, _PILImage.Image)


def _is_torch_tensor(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "numpy")


def is_path(x):
    return isinstance(x, (str, os.PathLike))


def is_encoded(x):
    return isinstance(x, (bytes, bytearray, memoryview))


def is_array(x):
    return isinstance(x, np.ndarray) or _is_torch_tensor(x)


def is_valid_image(x):
    return is_pil_image(x) or is_array(x) or is_path(x) or is_encoded(x)


def ndim(x):
    if is_array(x):
        return x.ndim
    return None  # a PIL image, a path, bytes: one image


def as_numpy(x, name):
    """A C-contiguous NumPy array in a dtype pixelflow computes in, sharing x's memory when it can."""
    if _is_torch_tensor(x):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        x = x.numpy()
    a = np.asarray(x)
    if a.dtype.byteorder not in ("=", "|"):
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype not in _NATIVE:
        if a.dtype in _WIDEN:
            a = a.astype(_WIDEN[a.dtype])
        elif a.dtype == np.uint64 and (a.size == 0 or int(a.max()) <= np.iinfo(np.int64).max):
            a = a.astype(np.int64)
        else:
            raise _core.InputError(f"{name}: arrays of dtype {a.dtype} are not supported "
                                   "(bool, integers, float32 and float64 are)")
    return np.ascontiguousarray(a)


def image_spec(x, index, convert_rgb):
    name = f"input {index}"
    if is_path(x):
        path = os.fspath(x)
        return ("path", path, path)
    if is_encoded(x):
        return ("bytes", bytes(x), name)
    if is_pil_image(x):
        if convert_rgb and x.mode != "RGB":
            x = x.convert("RGB")
        return ("array", as_numpy(x, name), name)
    if is_array(x):
        return ("array", as_numpy(x, name), name)
    raise _core.InputError(
        "Invalid image type. Expected either PIL.Image.Image, numpy.ndarray, torch.Tensor, a path or encoded "
        f"bytes, but got {type(x)}.")


def label_spec(x, index):
    name = f"input {index} (segmentation map)"
    if is_path(x):
        return ("path", os.fspath(x))
    if is_encoded(x):
        raise _core.InputError(f"{name}: segmentation maps as encoded bytes are not supported (pass a path, "
                               "a PIL image or an array)")
    if is_pil_image(x) or is_array(x):
        return ("array", as_numpy(x, name))
    raise _core.InputError(f"{name}: invalid segmentation map type {type(x)}")


def flat_list(images, expected_ndims=3):
    """transformers' make_flat_list_of_images, paths and bytes counting as single images."""
    if isinstance(images, (list, tuple)) and images and all(isinstance(i, (list, tuple)) for i in images):
        return [img for group in images for img in group]
    if isinstance(images, (list, tuple)):
        if images and is_array(images[0]) and images[0].ndim == expected_ndims + 1:
            return [img for batch in images for img in batch]
        return list(images)
    if is_array(images):
        if images.ndim == expected_ndims + 1:
            return list(images)
        return [images]
    return [images]


def videos_list(videos):
    """transformers' make_batched for video processors: a list of videos, each a list of frames."""
    if isinstance(videos, (list, tuple)) and videos and isinstance(videos[0], (list, tuple)):
        return [list(v) for v in videos]
    if isinstance(videos, (list, tuple)) and videos and is_array(videos[0]) and videos[0].ndim == 4:
        return [list(v) for v in videos]
    if isinstance(videos, (list, tuple)):
        return [list(videos)]
    if is_array(videos) and videos.ndim == 5:
        return [list(v) for v in videos]
    if is_array(videos) and videos.ndim == 4:
        return [list(videos)]
    return [[videos]]
