"""The image processor classes, spelled as transformers spells them.

Every supported class (``pixelflow.CLIPImageProcessor``, ...) and its transformers 5.x PIL
backend name (``pixelflow.CLIPImageProcessorPil``) is a subclass of :class:`BaseImageProcessor`.
An instance holds its configuration as plain attributes (``proc.size``, ``proc.do_resize``, ...,
readable and settable, as in transformers); each call hands the current attributes and the call's
keyword arguments to the C++ core, which resolves them as the class's ``preprocess`` does and
runs the fused graph with the GIL released. Prepared graphs are cached per (attributes, kwargs),
so repeated calls with the same arguments only run.
"""
from __future__ import annotations

import copy
import enum
import json
import logging
import os
import threading
from collections import OrderedDict

import numpy as np

from . import _core, _inputs
from .batch_feature import BatchFeature, _tensor_type

logger = logging.getLogger("pixelflow")

__all__ = ["BaseImageProcessor", "AutoImageProcessor", "IMAGE_PROCESSOR_NAME", "set_num_threads", "get_num_threads"]

IMAGE_PROCESSOR_NAME = "preprocessor_config.json"
_PRIVATE = "_pf_"
_num_threads = 0  # 0: all cores

# from_pretrained keywords that only steer loading (transformers' hub arguments); the C++ loader
# consumes them (revision, cache_dir, subfolder, force_download, local_files_only, token, proxies,
# resume_download: see the README's "The Hugging Face Hub") and never reports them as unused.
_LOADER_KWARGS = ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder", "proxies",
                  "resume_download", "use_auth_token", "trust_remote_code", "_from_auto", "_from_pipeline")


def set_num_threads(n: int):
    """Threads each call may use (0: all cores). Calls from several Python threads share them."""
    global _num_threads
    n = int(n)
    if n < 0 or n > 256:
        raise _core.ConfigError(f"threads: expected 0 (all cores) to 256, got {n}")
    _num_threads = n


def get_num_threads() -> int:
    return _num_threads


def _json_default(o):
    """JSON for the values a Python caller may pass (NumPy scalars and arrays, enums, torch
    tensors, tuples); anything else becomes a string, which the core treats as a value of the
    wrong type (or ignores, for keys the class does not take, as transformers does)."""
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if type(o).__module__.startswith("torch") and hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return list(o)
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    return f"<{type(o).__name__} object>"


def _dumps(obj):
    return json.dumps(obj, default=_json_default, allow_nan=True)


def _to_plain(v):
    """A kwarg value as the C++ core should see it (enums and NumPy values unwrapped)."""
    return json.loads(_dumps(v))


class BaseImageProcessor:
    """Common base of pixelflow's image processors (transformers' ImageProcessingMixin API)."""

    _class_name = None       # canonical class name in the C++ core, e.g. "CLIPImageProcessor"
    model_input_names = ["pixel_values"]

    # ---- construction ---------------------------------------------------------------------

    def __init__(self, **kwargs):
        cls_name = self._class_name
        if cls_name is None:
            raise TypeError("BaseImageProcessor cannot be instantiated; use a processor class or AutoImageProcessor")
        loaded = _core.config_from_json_text(_dumps(kwargs), f"{type(self).__name__}(...)", "{}", cls_name)
        self._pf_set(loaded)

    def _pf_set(self, loaded):
        _, attrs_json, _, warns, _ = loaded
        attrs = json.loads(attrs_json)
        attrs.pop("image_processor_type", None)
        for k in [k for k in self.__dict__ if not k.startswith(_PRIVATE)]:
            del self.__dict__[k]
        self.__dict__.update(attrs)
        self._pf_init_state()
        for w in warns:
            (logger.info if w.startswith("pixelflow: ") else logger.warning)(w)

    def _pf_init_state(self):
        object.__setattr__(self, "_pf_lock", threading.Lock())
        object.__setattr__(self, "_pf_calls", OrderedDict())

    @classmethod
    def _pf_new(cls, loaded):
        obj = cls.__new__(cls)
        obj._pf_set(loaded)
        return obj

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Loads a folder holding preprocessor_config.json, the file itself, a URL to it, or a model
        id: found in the local Hugging Face cache, among pixelflow's bundled configs, or downloaded
        from the Hub into the cache (``revision``, ``cache_dir``, ``force_download``,
        ``local_files_only``, ``token``, ``proxies``, ``subfolder``), as transformers'
        ``from_pretrained`` does; extra keyword arguments override the file's values, and
        ``return_unused_kwargs=True`` also returns those the class does not use. Hub failures
        raise ``pixelflow.HubError`` (an ``OSError``)."""
        return_unused = bool(kwargs.pop("return_unused_kwargs", False))
        _check_backend(kwargs)
        revision = kwargs.pop("revision", None)
        loaded = _core.load_config(os.fspath(pretrained_model_name_or_path), _dumps(kwargs), cls._class_name,
                                   None if revision is None else str(revision))
        proc = _class_for(loaded[0], cls)._pf_new(loaded)
        if return_unused:
            unused = {k: kwargs[k] for k in loaded[2] if k in kwargs and k not in _LOADER_KWARGS}
            return proc, unused
        return proc

    @classmethod
    def from_dict(cls, image_processor_dict, **kwargs):
        """transformers' from_dict: the dict's values, then the keyword arguments."""
        return_unused = bool(kwargs.pop("return_unused_kwargs", False))
        loaded = _core.config_from_json_text(_dumps(dict(image_processor_dict)), "from_dict", _dumps(kwargs),
                                             cls._class_name)
        proc = _class_for(loaded[0], cls)._pf_new(loaded)
        if return_unused:
            return proc, {k: kwargs[k] for k in loaded[2] if k in kwargs}
        return proc

    @classmethod
    def from_json_file(cls, json_file):
        path = os.fspath(json_file)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        loaded = _core.config_from_json_text(text, path, "{}", cls._class_name)
        return _class_for(loaded[0], cls)._pf_new(loaded)

    # ---- serialization --------------------------------------------------------------------

    def to_dict(self):
        out = copy.deepcopy({k: v for k, v in self.__dict__.items() if not k.startswith(_PRIVATE)})
        out["image_processor_type"] = type(self).__name__
        return out

    def to_json_string(self):
        d = self.to_dict()
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path):
        with open(json_file_path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())

    def save_pretrained(self, save_directory, push_to_hub=False, **kwargs):
        """Writes ``save_directory/preprocessor_config.json``; with ``push_to_hub=True`` also commits
        it to the Hub repository ``repo_id`` (default: the folder's name), creating the repository
        if needed, as transformers does. Keywords: ``repo_id``, ``token`` (default: ``HF_TOKEN``,
        else the stored token), ``private``, ``commit_message`` (default ``"Upload processor"``),
        ``commit_description``, ``revision`` (the branch, default ``main``)."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise AssertionError(f"Provided path ({save_directory}) should be a directory, not a file")
        push = None
        if push_to_hub:
            push = {
                "commit_message": kwargs.pop("commit_message", None) or "Upload processor",
                "repo_id": kwargs.pop("repo_id", save_directory.rstrip(os.path.sep).split(os.path.sep)[-1]),
                "token": kwargs.pop("token", kwargs.pop("use_auth_token", None)),
                "private": kwargs.pop("private", None),
                "revision": kwargs.pop("revision", None) or "main",
                "commit_description": kwargs.pop("commit_description", None) or "",
                "proxies": kwargs.pop("proxies", None) or {},
            }
            kwargs.pop("exist_ok", None)
            if kwargs.pop("repo_type", None) not in (None, "model"):
                raise _core.Error("save_pretrained(push_to_hub=True): only model repositories are supported")
            if kwargs:
                raise TypeError(f"save_pretrained() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
            token = push["token"]
            if token is False or _core.hub_token(token if isinstance(token, str) else None) is None:
                err = _core.HubError(f"{push['repo_id']}: push_to_hub needs a token with write access: token=..., "
                                     "HF_TOKEN or the file HF_TOKEN_PATH (default HF_HOME/token)")
                err.kind, err.repo_id = "auth", str(push["repo_id"])
                raise err
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, IMAGE_PROCESSOR_NAME)
        self.to_json_file(path)
        if push is not None:
            with open(path, "rb") as f:
                content = f.read()
            token = push["token"]
            _core.upload_file(str(push["repo_id"]), IMAGE_PROCESSOR_NAME, content,
                              token=token if isinstance(token, str) else None, use_token=token is not False,
                              private=push["private"], commit_message=str(push["commit_message"]),
                              commit_description=str(push["commit_description"]), revision=str(push["revision"]),
                              proxies={str(k): str(v) for k, v in dict(push["proxies"]).items() if v is not None})
        return [path]

    def __repr__(self):
        return f"{type(self).__name__} {self.to_json_string()}"

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if not k.startswith(_PRIVATE)}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pf_init_state()

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new

    # ---- calls ----------------------------------------------------------------------------

    def _pf_call(self, kwargs, return_tensors, skip_failed=False):
        """The prepared C++ call for the current attributes and these kwargs (cached)."""
        attrs = self.to_dict()
        attrs["image_processor_type"] = self._class_name
        key = (_dumps(attrs), _dumps(kwargs), return_tensors, skip_failed, _num_threads)
        with self._pf_lock:
            call = self._pf_calls.get(key)
            if call is not None:
                self._pf_calls.move_to_end(key)
                return call
        opts = _core.CallOptions()
        opts.return_tensors = return_tensors
        opts.threads = _num_threads
        opts.skip_failed = skip_failed
        call = _core.Call(self._class_name, key[0], key[1], opts)
        for w in call.warnings:
            (logger.info if w.startswith("pixelflow: ") else logger.warning)(w)
        with self._pf_lock:
            self._pf_calls[key] = call
            while len(self._pf_calls) > 16:
                self._pf_calls.popitem(last=False)
        return call

    def __call__(self, images=None, *args, **kwargs):
        return self.preprocess(images, *args, **kwargs)

    def preprocess(self, images=None, segmentation_maps=None, **kwargs):
        """transformers' ``preprocess(images, **kwargs)``: every keyword the class's preprocess
        takes, plus ``return_tensors`` (None, "np" or "pt")."""
        kind = _tensor_type(kwargs.pop("return_tensors", None))
        annotations = None
        if _core.takes_detection_annotations(self._class_name):
            annotations = kwargs.pop("annotations", None)
        kwargs = {k: _to_plain(v) for k, v in kwargs.items()}
        if images is None:
            raise _core.InputError("images: expected an image, a list of images or a batch, got None")
        if self._class_name in _NESTED_CLASSES:
            return self._pf_nested(images, kwargs, kind)
        convert = bool(getattr(self, "do_convert_rgb", False)) if "do_convert_rgb" not in kwargs \
            else bool(kwargs["do_convert_rgb"])
        call = self._pf_call(kwargs, return_tensors=kind is not None)
        video = call.video
        groups = None  # images per sample, for the classes that take nested lists as samples
        if video:
            if segmentation_maps is not None:
                raise _core.InputError("segmentation_maps: not supported for video processors")
            videos = _inputs.videos_list(images)
            specs = [[_inputs.image_spec(f, i, convert) for i, f in enumerate(v)] for v in videos]
        else:
            # ImageGPT's preprocess calls make_list_of_images, every other class make_flat_list_of_images
            make_list = _inputs.list_of_images if self._class_name == "ImageGPTImageProcessor" else _inputs.flat_list
            if self._class_name in _GROUPED:
                images, groups = _GROUPED[self._class_name](images)
            flat = make_list(images)
            if groups is not None and len(flat) > sum(groups):
                # A stacked batch counted as one image: transformers processes the images it has a
                # need_patching entry for (their errors first), then indexes past its end.
                self._pf_run(call, [_inputs.image_spec(x, i, convert) for i, x in enumerate(flat[:sum(groups)])],
                             video, stacked=kind is not None, groups=groups)
                raise IndexError("list index out of range")
            if not flat:
                if self._class_name == "Qwen2VLImageProcessor":  # transformers: np.array([]) for both keys
                    return BatchFeature({"pixel_values": np.array([]), "image_grid_thw": np.array([])},
                                        tensor_type=kind)
                raise _core.InputError("images: an empty list")
            specs = [_inputs.image_spec(x, i, convert) for i, x in enumerate(flat)]
            if segmentation_maps is not None:
                maps = _inputs.flat_list(segmentation_maps, expected_ndims=2)
                if len(maps) != len(specs):
                    raise _core.InputError(f"segmentation_maps: {len(maps)} maps for {len(specs)} images")
                specs = [s + (_inputs.label_spec(m, i),) for i, (s, m) in enumerate(zip(specs, maps))]
            if annotations is not None:
                specs = self._pf_annotated(specs, annotations)
        if annotations is not None:
            return self._pf_detection(self._pf_run(call, specs, video, stacked=False), kind)
        if kind is not None:
            try:
                return BatchFeature(self._pf_run(call, specs, video, stacked=True, groups=groups), tensor_type=kind)
            except _core.InputError as e:
                if "cannot be stacked" not in str(e):
                    raise
            # Outputs of different shapes or dtypes: transformers stacks its per-image list in
            # BatchFeature (NumPy's rules: an object array when the first axes differ, type
            # promotion, or its ValueError); so does pixelflow, from the per-image outputs.
            call = self._pf_call(kwargs, return_tensors=False)
        data = self._pf_run(call, specs, video, stacked=False, groups=groups)
        if kind is None:
            # Counts transformers keeps as a Python list of ints (Gemma 3's num_crops).
            for key, convert in _LIST_KEYS.get(self._class_name, {}).items():
                if key in data:
                    data[key] = [convert(v) for v in data[key]]
        return BatchFeature(data, tensor_type=kind)

    def _pf_nested(self, images, kwargs, kind):
        """Idefics3 / SmolVLM: images as samples (make_nested_list_of_images), each image cut into
        frames (its tiles and global image); with do_pad every sample padded with empty frames to
        the batch's most, pixel_attention_mask marking the real pixels; rows / cols with
        return_row_col_info (Python lists, as transformers adds them after the conversion)."""
        samples = _inputs.nested_list(images)
        if not samples or not any(samples):
            raise _core.InputError("images: no image in the batch (transformers fails on an IndexError)")
        first = next(s for s in samples if s)[0]
        if kwargs.get("input_data_format") is None and (_inputs.is_pil_image(first) or hasattr(first, "shape")):
            # infer_channel_dimension_format(first image, num_channels=(1, 3, 4)), before the
            # channel axis of 2-D images is added; passed on, as transformers uses it for all
            # (paths and bytes: the C++ loader infers it from the decoded header the same way)
            if _inputs.is_pil_image(first):
                bands = len(first.getbands())
                shape = (first.size[1], first.size[0]) + (() if bands == 1 else (bands,))
            else:
                shape = tuple(getattr(first, "shape", ()))
            layout = None
            if len(shape) in (3, 4):
                f, l = (0, 2) if len(shape) == 3 else (1, 3)
                if shape[f] in (1, 3, 4):
                    layout = "channels_first"
                elif shape[l] in (1, 3, 4):
                    layout = "channels_last"
                else:
                    raise _core.InputError("Unable to infer channel dimension format")
            if layout is None:
                raise _core.InputError(f"Unsupported number of image dimensions: {len(shape)}")
            kwargs = dict(kwargs, input_data_format=layout)
            if layout == "channels_first":
                # transformers adds the channel axis of 2-D images last (input_data_format was None
                # then), and reads them channels first: an H x W image becomes H channels of W x 1
                samples = [[np.asarray(x)[..., None] if _is_2d(x) else x for x in sample] for sample in samples]
        for sample in samples:
            for x in sample:
                if _inputs.is_pil_image(x) and x.mode == "P":
                    raise _core.InputError(
                        "pixelflow: palette (mode P) images are not supported by " + self._class_name +
                        " (transformers resizes the palette indices, then maps them through the palette); "
                        "convert them first: img.convert('RGB') gives the same pixels when no resize blends them")
        specs, index = [], 0
        for sample in samples:
            group = []
            for x in sample:
                group.append(_inputs.image_spec(x, index, False))  # convert_to_rgb comes after resizing
                index += 1
            specs.append(group)
        do_pad = kwargs.get("do_pad")
        do_pad = bool(getattr(self, "do_pad", True) if do_pad is None else do_pad)
        # PreparedCall::run_groups (Batching::kFramesPerSample): each sample's frames as one array,
        # padded with zero frames (do_pad) and stacked with pixel_attention_mask with return_tensors.
        stacked = kind is not None and do_pad
        data = self._pf_call(kwargs, return_tensors=stacked).run_groups(specs)
        out = {}
        if stacked:
            out["pixel_values"] = data["pixel_values"]
            out["pixel_attention_mask"] = data["pixel_attention_mask"]
        else:
            # transformers' lists: a sample is a list of (C, H, W) frames; its padding frames are
            # np.zeros of uint8, with the channels of the batch's first frame
            samples = list(data.get("pixel_values", []))
            masks = list(data.get("pixel_attention_mask", [])) if do_pad else []
            first = next((s[0] for s in samples if len(s)), None)
            values, frame_masks = [], []
            for i, frames in enumerate(samples):
                if not do_pad:
                    values.append(list(frames))
                    continue
                real = [bool(m[0, 0]) for m in masks[i]]
                values.append([f if r else np.zeros(first.shape, dtype=np.uint8) for f, r in zip(frames, real)])
                frame_masks.append(list(masks[i]))
            out["pixel_values"] = values
            if do_pad:
                out["pixel_attention_mask"] = frame_masks
        bf = BatchFeature(out, tensor_type=kind)
        if kwargs.get("return_row_col_info"):
            bf["rows"] = [[int(r) for r in g] for g in data["rows"]]
            bf["cols"] = [[int(c) for c in g] for g in data["cols"]]
        return bf

    @staticmethod
    def _pf_annotated(specs, annotations):
        """The input specs with each image's COCO-detection annotation (JSON text) attached."""
        if isinstance(annotations, dict):
            annotations = [annotations]
        if not isinstance(annotations, (list, tuple)) or len(annotations) != len(specs):
            n = len(annotations) if isinstance(annotations, (list, tuple)) else 1
            raise _core.ConfigError(
                f"annotations: The number of images ({len(specs)}) and annotations ({n}) do not match.")
        out = []
        for s, a in zip(specs, annotations):
            s = tuple(s) + (None,) * (4 - len(s))
            out.append(s + (_dumps(a),))
        return out

    @staticmethod
    def _pf_detection(data, kind):
        """The outputs of an annotated DETR-family call: ``labels.<field>`` lists become
        transformers' ``labels``, a list of per-image BatchFeatures (``size`` a tuple when
        return_tensors is None)."""
        fields = [k for k in data if k.startswith("labels.")]
        labels = [dict() for _ in range(len(data[fields[0]]) if fields else 0)]
        for k in fields:
            name = k[len("labels."):]
            for i, v in enumerate(data[k]):
                labels[i][name] = tuple(int(x) for x in v) if (name == "size" and kind is None) else v
        rest = {k: v for k, v in data.items() if not k.startswith("labels.")}
        out = BatchFeature(rest, tensor_type=kind)
        out["labels"] = [BatchFeature(d, tensor_type=kind) for d in labels]
        return out

    @staticmethod
    def _pf_run(call, specs, video, stacked, groups=None):
        """Runs a prepared call (stacked: made with return_tensors=True) on the input specs
        (groups: the number of consecutive specs of each sample, or None)."""
        if not video and groups is not None:
            split, start = [], 0
            for n in groups:
                split.append(specs[start:start + n])
                start += n
            return call.run_groups(split)
        if not video:
            return call.run(specs)[0]
        if stacked:
            return call.run_videos(specs)
        frames, lengths = call.run_frames(specs)  # transformers: a list of videos, each a list of frames
        data = {}
        for key, values in frames.items():
            data[key], start = [], 0
            for n in lengths:
                data[key].append(list(values[start:start + n]))
                start += n
        return data

    # ---- post-processing ------------------------------------------------------------------

    def post_process_semantic_segmentation(self, outputs, target_sizes=None):
        """Semantic maps from a segmentation model's logits (N, num_labels, h, w), as transformers
        does it: bilinear upsampling to each target size (H, W), then argmax over the labels; no
        target sizes: argmax at the logits' size. ``outputs`` is the model output (anything with
        ``.logits``) or the logits themselves, a torch tensor or a NumPy array; the maps come back
        as int64 torch tensors or NumPy arrays to match."""
        if not _core.has_semantic_segmentation(self._class_name):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute 'post_process_semantic_segmentation'")
        logits = getattr(outputs, "logits", outputs)
        as_torch = _inputs._is_torch_tensor(logits)
        arr = _inputs.as_numpy(logits, "logits")
        if arr.dtype != np.float32:
            raise _core.InputError(f"logits: expected float32, got {arr.dtype}")
        sizes = []
        if target_sizes is not None:
            if _inputs._is_torch_tensor(target_sizes) or isinstance(target_sizes, np.ndarray):
                target_sizes = target_sizes.tolist()
            for t in target_sizes:
                t = t.tolist() if hasattr(t, "tolist") else t
                if len(t) != 2:
                    raise _core.InputError(f"target_sizes: expected (height, width) pairs, got {t!r}")
                sizes.append((int(t[0]), int(t[1])))
            if len(sizes) != (arr.shape[0] if arr.ndim else 0):
                raise _core.InputError("Make sure that you pass in as many target sizes as the batch dimension of "
                                       "the logits")
        attrs = self.to_dict()
        attrs["image_processor_type"] = self._class_name
        maps = _core.post_process_semantic_segmentation(self._class_name, _dumps(attrs), arr, sizes, _num_threads)
        if as_torch:
            import torch
            return [torch.from_numpy(m) for m in maps]
        return maps


# Outputs that transformers returns as Python lists with return_tensors=None, and how each entry
# is made (Gemma 3's num_crops: ints; LLaVA-NeXT's image_sizes: (height, width) tuples).
def _is_2d(x):
    """A 2-D image: a one-band PIL image (but P, refused) or a 2-D array."""
    if _inputs.is_pil_image(x):
        return len(x.getbands()) == 1 and x.mode != "P"
    return getattr(x, "ndim", None) == 2


# Classes whose inputs are samples of several images (transformers' make_nested_list_of_images).
_NESTED_CLASSES = {"Idefics3ImageProcessor", "SmolVLMImageProcessor"}

_LIST_KEYS = {"Gemma3ImageProcessor": {"num_crops": int},
              "LlavaNextImageProcessor": {"image_sizes": lambda hw: (int(hw[0]), int(hw[1]))},
              "LlavaOnevisionImageProcessor": {"image_sizes": lambda hw: (int(hw[0]), int(hw[1])),
                                               "batch_num_images": int}}


def _onevision_groups(images):
    """LlavaOnevisionImageProcessor.preprocess: a list of lists is a batch of samples (empty ones
    dropped), each image of a sample of several padded to a square instead of tiled; anything else
    is one image per sample. Returns (images, images per sample)."""
    if isinstance(images, (tuple, list)) and isinstance(images[0], (tuple, list)):
        images = [x for x in images if x]
        return images, [len(x) for x in images]
    if isinstance(images, (tuple, list)):
        return images, [1] * len(images)
    return images, [1]


# Classes whose nested lists are samples of several images (PreparedCall::run_groups): how the
# images argument splits into (images, images per sample).
_GROUPED = {"LlavaOnevisionImageProcessor": _onevision_groups}


def _check_backend(kwargs):
    """AutoImageProcessor's backend= / use_fast= keywords: pixelflow reproduces the PIL backend."""
    backend = kwargs.pop("backend", None)
    use_fast = kwargs.pop("use_fast", None)
    if backend is not None and str(getattr(backend, "value", backend)).lower() not in ("pil", "python", "slow"):
        raise _core.ConfigError(f"backend: pixelflow reproduces transformers' PIL backend only, got {backend!r} "
                                "(use backend='pil' or leave it out)")
    if use_fast:
        raise _core.ConfigError("use_fast: pixelflow reproduces transformers' PIL backend (use_fast=False), not the "
                                "torchvision backend; leave use_fast out")


_CLASSES = {}


def _class_for(class_name, requested):
    """The pixelflow class for a canonical C++ class name; a class the caller named (e.g. the
    ...Pil alias) is kept when it is that class."""
    if requested is not None and requested._class_name == class_name:
        return requested
    return _CLASSES[class_name]


def _make_classes():
    made = {}
    for name in _core.supported_classes():
        body = {"_class_name": name, "__module__": "pixelflow", "__doc__": f"transformers' {name} (PIL backend), exact."}
        if _core.has_object_detection(name):  # the DETR family: with each class's own signature
            from .post_processing import post_process_object_detection_for
            body["post_process_object_detection"] = post_process_object_detection_for(name)
        from ._vlm import METHODS as _vlm_methods
        body.update(_vlm_methods.get(name, {}))
        cls = type(name, (BaseImageProcessor,), body)
        pil = type(name + "Pil", (cls,), {"_class_name": name, "__module__": "pixelflow",
                                          "__doc__": f"transformers 5.x's {name}Pil: the same as {name}."})
        _CLASSES[name] = cls
        made[name] = cls
        made[name + "Pil"] = pil
    return made


class AutoImageProcessor:
    """transformers.AutoImageProcessor: picks the class from the config (image_processor_type,
    feature_extractor_type, or the model type), as transformers does."""

    def __init__(self):
        raise EnvironmentError("AutoImageProcessor is designed to be instantiated using "
                               "`AutoImageProcessor.from_pretrained(pretrained_model_name_or_path)`.")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        return BaseImageProcessor.from_pretrained.__func__(_AutoBase, pretrained_model_name_or_path, **kwargs)


class _AutoBase(BaseImageProcessor):
    _class_name = None
