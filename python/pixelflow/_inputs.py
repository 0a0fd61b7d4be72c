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


# PIL images are read from PIL's own memory when it can be done safely: ImagingCore.unsafe_ptrs
# gives the address of the image's row pointers; "RGB" pixels are 4 bytes apart (R, G, B, pad)
# and "L" pixels 1 byte. The layout is checked once per process on a small image against
# np.asarray; where it differs or the attribute is missing (other Pillow versions), np.asarray
# is used instead (a copy through PIL's raw encoder, about 2.5x the cost of processing a
# 640x480 image for CLIP).
_ROWS_OK = None
_ROW_LAYOUT = {"RGB": (3, 4), "L": (1, 1)}


def _pil_rows(im):
    """(core, rows address, width, height, channels, bytes per pixel), or None."""
    layout = _ROW_LAYOUT.get(im.mode)
    if layout is None:
        return None
    im.load()
    core = im.im
    try:
        ptrs = dict(core.unsafe_ptrs)
        addr = int(ptrs.get("image") or 0)
        w, h = core.size
        if core.mode != im.mode or (w, h) != im.size or not addr or w <= 0 or h <= 0:
            return None
    except Exception:
        return None
    return (core, addr, w, h) + layout


def _rows_usable():
    global _ROWS_OK
    if _ROWS_OK is None:
        import ctypes
        import warnings
        ok = True
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                for mode in _ROW_LAYOUT:
                    shape = (3, 5, 3) if mode == "RGB" else (3, 5)
                    want = (np.arange(np.prod(shape)) * 7 % 251).astype(np.uint8).reshape(shape)
                    r = _pil_rows(_PILImage.fromarray(want, mode=mode))
                    if r is None:
                        ok = False
                        break
                    _, addr, w, h, c, step = r
                    rows = ctypes.cast(addr, ctypes.POINTER(ctypes.c_void_p))
                    got = np.stack([np.frombuffer(ctypes.string_at(rows[y], w * step), np.uint8)
                                    .reshape(w, step)[:, :c] for y in range(h)]).reshape(shape)
                    ok = ok and np.array_equal(got, want)
        except Exception:
            ok = False
        _ROWS_OK = ok
    return _ROWS_OK


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
        if x.mode in _ROW_LAYOUT and _rows_usable():
            rows = _pil_rows(x)
            if rows is not None:
                return ("rows", rows, name)
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


def _ndim_error(x, expected_ndims):
    return _core.InputError(f"Could not make a flat list of images from an array of shape {tuple(x.shape)}: expected "
                            f"{expected_ndims} dimensions (one image) or {expected_ndims + 1} (a batch)")


def flat_list(images, expected_ndims=3):
    """transformers' make_flat_list_of_images, paths and bytes counting as single images: a nested
    list is flattened one level; a list whose first item is an array of expected_ndims + 1
    dimensions is a list of batches; a lone array is one image (expected_ndims) or a batch
    (expected_ndims + 1). An array of any other rank there raises, as in transformers (a 2-D
    array only gets through inside a nested list, as a PIL "L" image does)."""
    if isinstance(images, (list, tuple)) and images and all(isinstance(i, (list, tuple)) for i in images):
        return [img for group in images for img in group]
    if isinstance(images, (list, tuple)):
        if images and is_array(images[0]):
            if images[0].ndim == expected_ndims + 1:
                return [img for batch in images for img in batch]
            if images[0].ndim != expected_ndims:
                raise _ndim_error(images[0], expected_ndims)
        return list(images)
    if is_array(images):
        if images.ndim == expected_ndims + 1:
            return list(images)
        if images.ndim != expected_ndims:
            raise _ndim_error(images, expected_ndims)
        return [images]
    return [images]


def nested_list(images, expected_ndims=3):
    """transformers' make_nested_list_of_images (Idefics3, SmolVLM): a list of samples, each a list
    of images. A list of lists (empty ones allowed) is that; a flat list of images is one sample (a
    list of batches: one sample per batch); a single image is one sample of one image (a batch:
    one sample of its images)."""
    def valid_list(x):
        return bool(x) and all(is_valid_image(i) for i in x)

    def single(x):  # paths, bytes and PIL images are single images
        return not is_array(x) or x.ndim == expected_ndims

    if isinstance(images, (list, tuple)) and all(isinstance(i, (list, tuple)) for i in images) and \
            all(valid_list(i) or not i for i in images):
        return [list(i) for i in images]
    if isinstance(images, (list, tuple)) and valid_list(images):
        if single(images[0]):
            return [list(images)]
        if images[0].ndim == expected_ndims + 1:
            return [list(i) for i in images]
    if is_valid_image(images):
        if single(images):
            return [[images]]
        if images.ndim == expected_ndims + 1:
            return [list(images)]
    raise _core.InputError("Invalid input type. Must be a single image, a list of images, or a list of batches of "
                           "images.")


def list_of_images(images, expected_ndims=3):
    """transformers' make_list_of_images (ImageGPT): a list or tuple whose first item is an image is
    the list of images as it is (nothing flattened); a lone array is one image (expected_ndims
    dimensions) or a batch (expected_ndims + 1); anything else (a nested list) raises."""
    if isinstance(images, (list, tuple)) and images and is_valid_image(images[0]):
        return list(images)
    if isinstance(images, (list, tuple)) and not images:
        return []
    if is_array(images):
        if images.ndim == expected_ndims + 1:
            return list(images)
        if images.ndim == expected_ndims:
            return [images]
        raise _core.InputError(f"Invalid image shape. Expected either {expected_ndims + 1} or {expected_ndims} "
                               f"dimensions, but got {images.ndim} dimensions.")
    if is_valid_image(images):
        return [images]
    raise _core.InputError("Invalid image type. Expected either PIL.Image.Image, numpy.ndarray, or torch.Tensor, "
                           f"but got {type(images)}.")


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
