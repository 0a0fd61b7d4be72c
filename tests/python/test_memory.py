"""Memory: repeated calls reuse pixelflow's buffers; the resident set stays flat."""
import gc
import os

import numpy as np

import pixelflow
from conftest import model_dir, sample_images


def rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_rss_flat_over_10000_calls():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(model_dir("openai/clip-vit-base-patch32"))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (int(h), int(w), 3), dtype=np.uint8) for h, w in rng.integers(40, 300, (16, 2))]
    path = sample_images()[0]
    kept = []

    def call(i):
        x = images[i % len(images)] if i % 10 else path
        out = proc(x, return_tensors="np" if i % 3 else "pt")
        if i % 100 == 0:  # some outputs live on for a while, as a data loader's do
            kept.append(out)
            if len(kept) > 5:
                kept.pop(0)

    for i in range(1000):  # warm-up: pools and caches reach their working size
        call(i)
    gc.collect()
    before = rss_bytes()
    for i in range(1000, 11000):
        call(i)
    gc.collect()
    grown = rss_bytes() - before
    assert grown < 16 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 10,000 calls"
