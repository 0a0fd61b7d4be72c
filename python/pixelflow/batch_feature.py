"""BatchFeature: the outputs of a processor call, as transformers.BatchFeature gives them.

A dict subclass (``isinstance(bf, dict)``), with transformers' extras: attribute access
(``bf.pixel_values``), ``convert_to_tensors(tensor_type)``, ``.to(device_or_dtype)`` and pickling.
NumPy outputs are arrays over pixelflow's buffers (no copy); ``"pt"`` outputs are
``torch.from_numpy`` of those arrays (still no copy). Every value supports ``__dlpack__``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["BatchFeature", "TensorType"]


class TensorType:
    """transformers.utils.TensorType's values (the names are accepted as strings too)."""
    PYTORCH = "pt"
    NUMPY = "np"


def _tensor_type(tensor_type):
    """'np' / 'pt' / None from a string or an enum (transformers.TensorType included)."""
    if tensor_type is None:
        return None
    value = getattr(tensor_type, "value", tensor_type)
    if value in ("np", "pt"):
        return value
    if value in ("tf", "jax", "mlx"):
        from ._core import Error
        raise Error(f"return_tensors={value!r}: pixelflow returns NumPy ('np') or PyTorch ('pt') tensors")
    raise ValueError(f"{tensor_type!r} is not a valid TensorType, please select one of ['pt', 'np']")


def _import_torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("Unable to convert output to PyTorch tensors format, PyTorch is not installed.") from e
    return torch


def _is_array_like(value):
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (list, tuple)):
        return len(value) > 0 and not isinstance(value[0], (str, dict))
    return hasattr(value, "__array__") or type(value).__module__.startswith("torch")


class BatchFeature(dict):
    """transformers.BatchFeature as a dict subclass."""

    def __init__(self, data=None, tensor_type=None, skip_tensor_conversion=None):
        super().__init__(data or {})
        self.convert_to_tensors(tensor_type=tensor_type, skip_tensor_conversion=skip_tensor_conversion)

    @property
    def data(self):
        """The dict itself (transformers' BatchFeature keeps its values in .data)."""
        return self

    def __getitem__(self, item):
        if isinstance(item, str):
            return dict.__getitem__(self, item)
        raise KeyError("Indexing with integers is not available when using Python based feature extractors")

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        try:
            return dict.__getitem__(self, item)
        except KeyError:
            raise AttributeError(item) from None

    def __reduce__(self):
        return (BatchFeature, (dict(self),))

    def convert_to_tensors(self, tensor_type=None, skip_tensor_conversion=None):
        """Converts every array-like value to NumPy arrays ('np') or torch tensors ('pt')."""
        kind = _tensor_type(tensor_type)
        if kind is None:
            return self
        torch = _import_torch() if kind == "pt" else None
        for key, value in list(self.items()):
            if skip_tensor_conversion and key in skip_tensor_conversion:
                continue
            if not _is_array_like(value):
                continue
            try:
                dict.__setitem__(self, key, _as_tensor(value, torch))
            except Exception as e:
                raise ValueError(
                    f"Unable to convert output '{key}' (type: {type(value).__name__}) to tensor: {e}") from e
        return self

    def to(self, *args, **kwargs):
        """Sends every torch tensor to a device, and casts floating-point tensors to a dtype, as
        transformers.BatchFeature.to does (PyTorch only)."""
        torch = _import_torch()
        device = kwargs.get("device")
        non_blocking = kwargs.get("non_blocking", False)
        if device is None and args:
            arg = args[0]
            if isinstance(arg, torch.dtype):
                pass
            elif isinstance(arg, (str, int, torch.device)):
                device = arg
            else:
                raise ValueError(f"Attempting to cast a BatchFeature to type {arg}. This is not supported.")

        def maybe_to(v):
            if isinstance(v, torch.Tensor) and torch.is_floating_point(v):
                return v.to(*args, **kwargs)
            if isinstance(v, torch.Tensor) and device is not None:
                return v.to(device=device, non_blocking=non_blocking)
            if isinstance(v, (list, tuple)):
                return type(v)(maybe_to(x) for x in v)
            return v

        for key, value in list(self.items()):
            dict.__setitem__(self, key, maybe_to(value))
        return self


def _as_tensor(value, torch):
    """transformers 5.0's BatchFeature conversion of one value, rule for rule."""
    if torch is None:  # NumPy
        if isinstance(value, np.ndarray):
            return value
        if type(value).__module__.startswith("torch"):
            return value.numpy()
        return _np_as_tensor(value)
    if torch.is_tensor(value):
        return value
    if isinstance(value, (list, tuple)) and len(value) > 0 and torch.is_tensor(value[0]):
        return torch.stack(list(value))
    if isinstance(value, (list, tuple)) and len(value) > 0:
        if isinstance(value[0], np.ndarray):
            value = np.array(value)
        elif isinstance(value[0], (list, tuple)) and len(value[0]) > 0 and isinstance(value[0][0], np.ndarray):
            value = np.array(value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return torch.tensor(value)


def _np_as_tensor(value, dtype=None):
    if isinstance(value, (list, tuple)) and isinstance(value[0], (list, tuple, np.ndarray)):
        lens = [len(v) for v in value]
        if len(set(lens)) > 1 and dtype is None:  # ragged: an object array of the items
            value = _np_as_tensor([np.asarray(v) for v in value], dtype=object)
    return np.asarray(value, dtype=dtype)
