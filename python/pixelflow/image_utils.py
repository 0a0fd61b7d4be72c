"""pixelflow.load_image: transformers.image_utils.load_image, decoded by pixelflow.

Paths, encoded bytes, http(s) URLs and base64 strings are decoded by pixelflow's own decoders
(the same pixels as PIL.Image.open gives), then EXIF orientation is applied and the image is
converted to RGB, exactly as transformers does it. The result is a PIL image when Pillow is
installed (as transformers returns), else an (H, W, 3) uint8 NumPy array; either can be passed
to a processor. PIL images are handled by PIL itself (ImageOps.exif_transpose, convert("RGB")).
"""
from __future__ import annotations

import base64
import binascii
import os

from . import _core, _inputs

__all__ = ["load_image", "load_images"]


def _from_rgb(rgb):
    if _inputs._PILImage is None:
        return rgb
    return _inputs._PILImage.fromarray(rgb, mode="RGB")


def _fetch(url, timeout):
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (the caller asked for it)
            return r.read()
    except Exception as e:
        raise _core.DecodeError(f"{url}: cannot download ({e})") from e


def load_image(image, timeout=None):
    """Loads `image` (a path, URL, base64 string, encoded bytes or PIL image) as an RGB image."""
    if isinstance(image, os.PathLike):
        image = os.fspath(image)
    if isinstance(image, str):
        if image.startswith("http://") or image.startswith("https://"):
            return _from_rgb(_core.load_image_rgb(_fetch(image, timeout), image))
        if os.path.isfile(image):
            return _from_rgb(_core.load_image_rgb(image, image))
        text = image.split(",", 1)[1] if image.startswith("data:image/") else image
        try:
            data = base64.decodebytes(text.encode())
        except (binascii.Error, ValueError) as e:
            raise ValueError("Incorrect image source. Must be a valid URL starting with `http://` or `https://`, a "
                             f"valid path to an image file, or a base64 encoded string. Got {image[:80]}. Failed "
                             f"with {e}") from e
        return _from_rgb(_core.load_image_rgb(data, "base64 image"))
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _from_rgb(_core.load_image_rgb(bytes(image), "encoded image"))
    if _inputs.is_pil_image(image):
        from PIL import ImageOps
        return ImageOps.exif_transpose(image).convert("RGB")
    raise TypeError("Incorrect format used for image. Should be an url linking to an image, a base64 string, a local "
                    "path, encoded bytes or a PIL image.")


def load_images(images, timeout=None):
    """load_image over a list, or a list of lists."""
    if isinstance(images, (list, tuple)):
        if images and isinstance(images[0], (list, tuple)):
            return [[load_image(i, timeout=timeout) for i in group] for group in images]
        return [load_image(i, timeout=timeout) for i in images]
    return load_image(images, timeout=timeout)
