"""Concurrency: the GIL is released while pixelflow works, one processor serves many Python
threads with the same results, and pixelflow works inside torch DataLoader workers, forked (after
the parent has used oneTBB) or spawned."""
import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image

import pixelflow
from pixelflow.torch import ImageDataset
from conftest import model_dir, sample_images

CLIP = model_dir("openai/clip-vit-base-patch32")


def reference(proc, items, **kw):
    return [proc(x, return_tensors="np", **kw)["pixel_values"][0] for x in items]


def test_gil_is_released_during_a_call():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    big = [np.random.default_rng(i).integers(0, 256, (1200, 1600, 3), dtype=np.uint8) for i in range(24)]
    done = threading.Event()
    counted = [0]

    def work():
        try:
            for _ in range(3):
                proc(big, return_tensors="np")
        finally:
            done.set()

    t = threading.Thread(target=work)
    t.start()
    n = 0
    while not done.is_set():  # this loop only runs while the worker does not hold the GIL
        n += 1
    t.join()
    counted[0] = n
    # A call holding the GIL would let this loop run only between switch intervals (a few
    # hundred iterations per call); released, it runs millions of times.
    assert counted[0] > 200_000, counted[0]


def test_one_processor_many_threads_same_results():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    imgs = [Image.open(p).convert("RGB") for p in sample_images()]
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (int(h), int(w), 3), dtype=np.uint8)
              for h, w in rng.integers(16, 400, size=(12, 2))]
    items = imgs + arrays + sample_images()
    kwargs = [{}, {"size": {"shortest_edge": 96}, "crop_size": {"height": 64, "width": 80}}]
    want = {i: reference(proc, items, **kw) for i, kw in enumerate(kwargs)}
    errors = []

    def worker(seed):
        r = np.random.default_rng(seed)
        try:
            for _ in range(20):
                k = int(r.integers(0, len(kwargs)))
                idx = r.permutation(len(items))[: int(r.integers(1, 6))]
                out = proc([items[j] for j in idx], return_tensors="np", **kwargs[k])["pixel_values"]
                for row, j in zip(out, idx):
                    if not np.array_equal(row, want[k][j]):
                        errors.append((seed, k, int(j)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_torch_dataloader_workers(context):
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    files = sample_images() * 4
    want = np.stack(reference(proc, files))  # the parent has run oneTBB before forking
    ds = ImageDataset(proc, files)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, multiprocessing_context=context)
    got = torch.cat([b["pixel_values"] for b in loader]).numpy()
    assert np.array_equal(got, want)


def test_threads_setting():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    want = proc(sample_images(), return_tensors="np")["pixel_values"]
    try:
        for n in (1, 2, 0):
            pixelflow.set_num_threads(n)
            assert pixelflow.get_num_threads() == n
            assert np.array_equal(proc(sample_images(), return_tensors="np")["pixel_values"], want)
        with pytest.raises(pixelflow.ConfigError):
            pixelflow.set_num_threads(-1)
    finally:
        pixelflow.set_num_threads(0)
