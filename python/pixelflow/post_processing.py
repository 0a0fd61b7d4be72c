"""post_process_object_detection of the DETR family, as transformers' processors spell it.

``post_process_object_detection_for(class_name)`` returns the method to attach to a processor
class (``DetrImageProcessor``, ``YolosImageProcessor``, ``ConditionalDetrImageProcessor``,
``DeformableDetrImageProcessor``, ``RTDetrImageProcessor``; "...Fast"/"...Pil" names too), with
that class's transformers signature:

    post_process_object_detection(self, outputs, threshold=0.5, target_sizes=None)            # DETR, YOLOS
    post_process_object_detection(self, outputs, threshold=0.5, target_sizes=None, top_k=100)  # Conditional/Deformable
    post_process_object_detection(self, outputs, threshold=0.5, target_sizes=None, use_focal_loss=True)  # RT-DETR

``outputs`` holds ``logits`` (N, Q, C) and ``pred_boxes`` (N, Q, 4) as attributes (a model
output) or keys, torch tensors or NumPy arrays, float32 or float64. The result is one dict per
image with ``scores`` (k,), ``labels`` int64 (k,) and ``boxes`` (k, 4) (x0, y0, x1, y1), torch
tensors when the logits are, else NumPy arrays; dtypes as torch's type promotion gives them.
``target_sizes``: None (relative boxes), a list of (height, width) or an (N, 2) tensor/array.
Errors are pixelflow's (subclasses of ValueError) where transformers raises.
"""
import numbers

import numpy as np

from . import _core, _inputs

__all__ = ["post_process_object_detection_for", "object_detection_classes"]

_TOP_K = ("ConditionalDetrImageProcessor", "DeformableDetrImageProcessor")
_FOCAL = ("RTDetrImageProcessor",)


def object_detection_classes():
    """The classes that have post_process_object_detection (canonical names)."""
    return tuple(_core.object_detection_classes())


def _canonical(class_name):
    for suffix, cut in (("ImageProcessorFast", 4), ("ImageProcessorPil", 3)):
        if class_name.endswith(suffix):
            return class_name[:-cut]
    return class_name


def _get(outputs, key):
    if hasattr(outputs, key):
        return getattr(outputs, key)
    try:
        return outputs[key]
    except (TypeError, KeyError, IndexError):
        raise _core.InputError(f"outputs: expected a model output with `{key}`, got {type(outputs).__name__}") from None


def _float_array(x, name):
    if _inputs._is_torch_tensor(x):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        x = x.numpy()
    a = np.asarray(x)
    if a.dtype not in (np.float32, np.float64):
        raise _core.InputError(f"{name}: expected float32 or float64, got {a.dtype}")
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))


def _target_sizes(target_sizes, rt_detr):
    """(list of (h, w) floats, dtype name of the tensor torch scales by) for the binding."""
    if target_sizes is None:
        return None, None
    if _inputs._is_torch_tensor(target_sizes) or isinstance(target_sizes, np.ndarray):
        # target_sizes.unbind(1): an (N, 2) tensor; its dtype takes part in the type promotion.
        arr = target_sizes.detach().cpu().numpy() if _inputs._is_torch_tensor(target_sizes) else target_sizes
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise _core.InputError(f"target_sizes: expected an (batch_size, 2) tensor, got shape {tuple(arr.shape)}")
        if arr.dtype == np.float64:
            kind = "float64"
        elif arr.dtype.kind == "f":
            kind = "float32"
        elif arr.dtype.kind in "iub":
            kind = "int64"
        else:
            raise _core.InputError(f"target_sizes: unsupported dtype {arr.dtype}")
        return [(float(h), float(w)) for h, w in arr.tolist()], kind
    if not isinstance(target_sizes, (list, tuple)):
        raise _core.InputError(f"target_sizes: expected a list of (height, width) or a tensor, got "
                               f"{type(target_sizes).__name__}")
    if rt_detr and not target_sizes:
        raise _core.InputError("target_sizes: an empty list (RTDetrImageProcessor: torch.as_tensor([]).unbind(1) "
                               "fails)")
    sizes, integral = [], True
    for t in target_sizes:
        t = t.tolist() if hasattr(t, "tolist") else t
        if not isinstance(t, (list, tuple)) or len(t) < 2 or (rt_detr and len(t) != 2):
            raise _core.InputError(f"target_sizes: expected (height, width) pairs, got {t!r}")
        h, w = t[0], t[1]
        for v in (h, w):
            if not isinstance(v, numbers.Real):
                raise _core.InputError(f"target_sizes: expected numbers, got {v!r}")
            integral = integral and isinstance(v, numbers.Integral)
        sizes.append((float(h), float(w)))
    # DETR & co.: torch.Tensor(list) is float32; RT-DETR: torch.as_tensor(list), int64 for ints.
    return sizes, ("int64" if rt_detr and integral else "float32")


def _run(class_name, outputs, threshold, target_sizes, top_k=None, use_focal_loss=None):
    logits = _get(outputs, "logits")
    as_torch = _inputs._is_torch_tensor(logits)
    l_arr = _float_array(logits, "logits")
    b_arr = _float_array(_get(outputs, "pred_boxes"), "pred_boxes")
    sizes, kind = _target_sizes(target_sizes, class_name in _FOCAL)
    if sizes is not None and len(sizes) != (l_arr.shape[0] if l_arr.ndim else 0):
        raise _core.InputError("Make sure that you pass in as many target sizes as the batch dimension of the logits")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral):
            raise _core.InputError(f"top_k: expected an integer, got {top_k!r}")
        top_k = int(top_k)
    from .image_processing import get_num_threads
    results = _core.post_process_object_detection(class_name, l_arr, b_arr, float(threshold), sizes, kind, top_k,
                                                   use_focal_loss, get_num_threads())
    if as_torch:
        import torch
        return [{"scores": torch.from_numpy(s), "labels": torch.from_numpy(l), "boxes": torch.from_numpy(b)}
                for s, l, b in results]
    return [{"scores": s, "labels": l, "boxes": b} for s, l, b in results]


def post_process_object_detection_for(class_name):
    """The post_process_object_detection method of `class_name`, with its transformers signature.
    Raises ConfigError for a class without the method."""
    cls = _canonical(class_name)
    if not _core.has_object_detection(cls):
        raise _core.ConfigError(f"image_processor_type: {class_name} has no post_process_object_detection "
                                f"(classes that do: {', '.join(object_detection_classes())})")
    if cls in _TOP_K:
        def post_process_object_detection(self, outputs, threshold: float = 0.5, target_sizes=None, top_k: int = 100):
            return _run(cls, outputs, threshold, target_sizes, top_k=top_k)
    elif cls in _FOCAL:
        def post_process_object_detection(self, outputs, threshold: float = 0.5, target_sizes=None,
                                          use_focal_loss: bool = True):
            return _run(cls, outputs, threshold, target_sizes, use_focal_loss=bool(use_focal_loss))
    else:
        def post_process_object_detection(self, outputs, threshold: float = 0.5, target_sizes=None):
            return _run(cls, outputs, threshold, target_sizes)
    post_process_object_detection.__doc__ = (
        f"{cls}.post_process_object_detection, as transformers computes it: one dict per image with "
        "`scores`, `labels` and `boxes` (x0, y0, x1, y1), scaled to `target_sizes` (height, width) when given. "
        "See pixelflow.post_processing.")
    return post_process_object_detection
