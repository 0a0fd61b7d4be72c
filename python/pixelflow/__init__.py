"""pixelflow: transformers' image processors, exact and fast.

    from pixelflow import AutoImageProcessor          # instead of: from transformers import ...
    proc = AutoImageProcessor.from_pretrained("openai/clip-vit-base-patch32")
    batch = proc(images, return_tensors="pt")         # same bytes as transformers' PIL backend

Every supported class is here under transformers' name (``CLIPImageProcessor``, ...) and its
transformers 5.x PIL-backend name (``CLIPImageProcessorPil``). Errors are ``pixelflow.Error``
(a ``ValueError``) or its subclasses ``ConfigError``, ``DecodeError``, ``InputError``, and
``HubError`` (also an ``OSError``) when the Hugging Face Hub or its cache cannot give a file.
"""
import os as _os

from . import _core
from ._core import ConfigError, DecodeError, Error, HubError, InputError, KernelError, OutOfMemoryError
from .batch_feature import BatchFeature, TensorType
from .image_processing import (IMAGE_PROCESSOR_NAME, AutoImageProcessor, BaseImageProcessor, _make_classes,
                               get_num_threads, set_num_threads)
from .image_utils import load_image, load_images

__version__ = "0.1.0"

_models = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "models")
if _os.path.isdir(_models):
    _core.set_bundled_models_dir(_models)

globals().update(_make_classes())

SUPPORTED_CLASSES = tuple(_core.supported_classes())

__all__ = ["AutoImageProcessor", "BaseImageProcessor", "BatchFeature", "TensorType", "Error", "ConfigError",
           "DecodeError", "HubError", "InputError", "KernelError", "OutOfMemoryError", "load_image", "load_images",
           "set_num_threads", "get_num_threads", "IMAGE_PROCESSOR_NAME", "SUPPORTED_CLASSES"]
__all__ += [n for c in SUPPORTED_CLASSES for n in (c, c + "Pil")]
