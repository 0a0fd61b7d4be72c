"""PyTorch data loading on pixelflow's C++ DataLoader.

    from pixelflow import AutoImageProcessor
    from pixelflow.torch import DataLoader

    proc = AutoImageProcessor.from_pretrained("openai/clip-vit-base-patch32")
    loader = DataLoader(proc, "data/train/**/*.jpg", batch_size=64, shuffle=True, seed=0,
                        drop_last=True, on_error="skip")
    for epoch in range(3):
        loader.set_epoch(epoch)
        for batch in loader:               # {"pixel_values": torch.Tensor (64, 3, 224, 224)}
            ...
        print(loader.skipped)              # [(path, message), ...] of this epoch

Batches are computed ahead (``prefetch``) by C++ threads (``threads`` oneTBB workers per batch)
outside the GIL; the tensors share pixelflow's buffers (no copy) and return them to the pool when
dropped. Shuffling is a permutation drawn from ``seed + epoch`` (the same on every rank), and
sharding follows torch's DistributedSampler: ``rank`` / ``world_size`` default to
torch.distributed's when it is initialised. ``ImageDataset`` is the map-style alternative for
torch's own DataLoader (one image per item, its workers forked or spawned).
"""
from __future__ import annotations

import logging
import os

import torch as _torch
import torch.utils.data as _data

from . import _core, _inputs
from .batch_feature import BatchFeature
from .image_processing import AutoImageProcessor, BaseImageProcessor, _to_plain

__all__ = ["DataLoader", "ImageDataset", "list_files"]

logger = logging.getLogger("pixelflow")


def list_files(source, recursive=False):
    """The image files of a folder, a glob pattern, a list file (one path per line, .txt), a
    single file, or a list of any of these, in pixelflow run's order (sorted per source)."""
    if isinstance(source, (list, tuple)):
        out = []
        for s in source:
            s = os.fspath(s)
            out.extend([s] if os.path.isfile(s) else _core.list_inputs(s, recursive))
        return out
    return _core.list_inputs(os.fspath(source), recursive)


def _processor(p):
    if isinstance(p, BaseImageProcessor):
        return p
    return AutoImageProcessor.from_pretrained(p)


def _dist_default(rank, world_size):
    if rank is None or world_size is None:
        dist = _torch.distributed
        if dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
    return (0 if rank is None else int(rank)), (1 if world_size is None else int(world_size))


class DataLoader:
    """Batches of a processor's outputs over image files, as dicts of torch tensors."""

    def __init__(self, processor, source, batch_size=32, shuffle=False, seed=0, drop_last=False, rank=None,
                 world_size=None, prefetch=2, threads=0, on_error="fail", recursive=False, **call_kwargs):
        if on_error not in ("fail", "skip"):
            raise _core.ConfigError(f"on_error: expected 'fail' or 'skip', got {on_error!r}")
        self.processor = _processor(processor)
        self.files = list_files(source, recursive)
        if not self.files:
            raise _core.InputError(f"{source}: no image files found")
        self.rank, self.world_size = _dist_default(rank, world_size)
        self._opts = dict(batch_size=int(batch_size), prefetch=int(prefetch), shuffle=bool(shuffle),
                          seed=int(seed), rank=self.rank, world_size=self.world_size, drop_last=bool(drop_last),
                          epochs=1, threads=int(threads), skip=on_error == "skip")
        self.seed = int(seed)
        self.epoch = 0
        self.skipped = []
        call_kwargs.pop("return_tensors", None)
        self._call = self.processor._pf_call({k: _to_plain(v) for k, v in call_kwargs.items()},
                                             return_tensors=True, skip_failed=on_error == "skip")
        self._specs = [("path", f, f) for f in self.files]
        # As the C++ loader shards and batches (DistributedSampler's padding or truncation).
        n, w, bs = len(self.files), self.world_size, self._opts["batch_size"]
        if bs < 1:
            raise _core.ConfigError(f"batch_size: must be at least 1, got {bs}")
        per_rank = n // w if drop_last else -(-n // w)
        self._len = per_rank // bs if drop_last else -(-per_rank // bs)

    def set_epoch(self, epoch):
        """The epoch whose permutation the next iteration uses (as DistributedSampler.set_epoch)."""
        self.epoch = int(epoch)

    def _make_loader(self):
        opts = dict(self._opts, seed=self.seed + self.epoch)
        return _core.Loader(self._call, self._specs, opts)

    def __len__(self):
        return self._len

    def __iter__(self):
        loader = self._make_loader()
        self.skipped = []
        try:
            while True:
                b = loader.next()
                if b is None:
                    return
                _, _, positions, data, kept, failed = b
                for index, message in failed:
                    path = self.files[positions[index]]
                    self.skipped.append((path, message))
                    logger.warning("pixelflow: skipped %s", message)
                yield BatchFeature(data, tensor_type="pt")
        finally:
            loader.close()


class ImageDataset(_data.Dataset):
    """A map-style dataset: item i is the processor's output for files[i] (batch dimension
    removed), as a dict of torch tensors. Use with torch.utils.data.DataLoader (workers forked or
    spawned); each worker runs pixelflow on its own items."""

    def __init__(self, processor, source, recursive=False, **call_kwargs):
        self.processor = _processor(processor)
        self.files = list_files(source, recursive)
        call_kwargs.pop("return_tensors", None)
        self.call_kwargs = call_kwargs

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        out = self.processor(self.files[i], return_tensors="pt", **self.call_kwargs)
        # Keys whose rows are not one per image (Qwen2-VL's patches, GOT-OCR2's tiles, Gemma 3's
        # image and crops) stay whole; the others lose the batch dimension.
        whole = _ROWS_PER_IMAGE_KEYS.get(getattr(self.processor, "_class_name", ""), ())
        return {k: (v if k in whole else v[0]) for k, v in out.items()}


# Outputs with several rows for one image (see ImageDataset.__getitem__).
_ROWS_PER_IMAGE_KEYS = {
    "Qwen2VLImageProcessor": ("pixel_values", "image_grid_thw"),  # torch.cat of items = the batch
    "GotOcr2ImageProcessor": ("pixel_values",),
    "Gemma3ImageProcessor": ("pixel_values",),
}
