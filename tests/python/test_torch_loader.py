"""pixelflow.torch.DataLoader: batches of torch tensors over files, shuffled per seed and epoch,
sharded by rank, on_error='skip' reporting what was skipped."""
import os
import shutil

import numpy as np
import pytest
import torch

import pixelflow
from pixelflow.torch import DataLoader, ImageDataset, list_files
from conftest import SAMPLES, model_dir, sample_images

CLIP = model_dir("openai/clip-vit-base-patch32")


@pytest.fixture()
def folder(tmp_path):
    """12 distinct images: the samples, and random PNGs and JPEGs of various sizes."""
    from PIL import Image
    for p in sample_images():
        shutil.copy(p, tmp_path / f"0_{os.path.basename(p)}")
    rng = np.random.default_rng(7)
    for i in range(9):
        h, w = (int(v) for v in rng.integers(30, 300, 2))
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        im.save(tmp_path / f"{i + 1}_random.{'png' if i % 2 else 'jpg'}")
    return tmp_path


def test_batches_equal_the_processor_output(folder):
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    files = list_files(str(folder))
    assert len(files) == 12 and files == sorted(files)
    want = proc(files, return_tensors="np")["pixel_values"]
    loader = DataLoader(proc, str(folder), batch_size=5)
    assert len(loader) == 3
    batches = list(loader)
    assert [b["pixel_values"].shape[0] for b in batches] == [5, 5, 2]
    assert all(isinstance(b["pixel_values"], torch.Tensor) for b in batches)
    assert np.array_equal(torch.cat([b["pixel_values"] for b in batches]).numpy(), want)
    # globs and lists, call kwargs, a model id
    small = DataLoader("openai/clip-vit-base-patch32", [str(folder / "*.jpg")], batch_size=4,
                       size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    assert next(iter(small))["pixel_values"].shape == (4, 3, 64, 64)


def test_shuffle_seed_epoch_and_shards(folder):
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    files = list_files(str(folder))
    rows = {f: proc(f, return_tensors="np")["pixel_values"][0] for f in files}

    def order(loader):
        out = []
        for b in loader:
            for row in b["pixel_values"].numpy():
                out.append(next(f for f, r in rows.items() if np.array_equal(r, row)))
        return out

    a = DataLoader(proc, str(folder), batch_size=4, shuffle=True, seed=3)
    e0 = order(a)
    assert sorted(e0) == sorted(files) and e0 != files
    assert order(a) == e0  # same epoch, same order
    a.set_epoch(1)
    assert order(a) != e0 and sorted(order(a)) == sorted(files)
    shards = [order(DataLoader(proc, str(folder), batch_size=4, shuffle=True, seed=3, rank=r, world_size=3,
                               drop_last=True)) for r in range(3)]
    assert all(len(s) == 4 for s in shards)
    for world, bs, drop in [(3, 4, True), (3, 4, False), (5, 2, False), (5, 2, True), (1, 5, False)]:
        loader = DataLoader(proc, str(folder), batch_size=bs, rank=world - 1, world_size=world, drop_last=drop)
        assert len(loader) == len(list(loader)), (world, bs, drop)
    assert sorted(sum(shards, [])) == sorted(files)


def test_on_error_skip_reports_what_was_skipped(folder):
    (folder / "0_zz_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    loader = DataLoader(proc, str(folder), batch_size=13, on_error="skip")
    (batch,) = list(loader)
    assert batch["pixel_values"].shape[0] == 12
    assert len(loader.skipped) == 1 and loader.skipped[0][0].endswith("0_zz_broken.jpg")
    assert "0_zz_broken.jpg" in loader.skipped[0][1]
    failing = DataLoader(proc, str(folder), batch_size=13)
    with pytest.raises(pixelflow.DecodeError, match="0_zz_broken.jpg"):
        list(failing)
    with pytest.raises(pixelflow.ConfigError):
        DataLoader(proc, str(folder), on_error="ignore")


def test_map_style_dataset():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    ds = ImageDataset(proc, SAMPLES)
    assert len(ds) == len(sample_images())
    item = ds[0]
    assert item["pixel_values"].shape == (3, 224, 224)


# ---- Qwen2-VL: patch rows of every image concatenated, image_grid_thw one row an image ----------

QWEN2_VL = model_dir("Qwen/Qwen2-VL-7B-Instruct")


def test_qwen2vl_batches_concatenate_patch_rows(folder):
    """A Qwen2-VL batch is every image's patch rows one after the other (its number of rows is the
    sum of the images' t * h * w), as the processor returns them for the batch's files."""
    proc = pixelflow.Qwen2VLImageProcessor.from_pretrained(QWEN2_VL, max_pixels=28 * 28 * 64)
    files = list_files(str(folder))
    batches = list(DataLoader(proc, str(folder), batch_size=5))
    assert [len(b["image_grid_thw"]) for b in batches] == [5, 5, 2]
    for i, b in enumerate(batches):
        want = proc(files[5 * i: 5 * i + 5], return_tensors="np")
        assert b["pixel_values"].shape[0] == int(b["image_grid_thw"].prod(dim=1).sum())
        for k in ("pixel_values", "image_grid_thw"):
            assert np.array_equal(b[k].numpy(), want[k]), k


def test_qwen2vl_image_dataset_item_is_the_whole_image(folder):
    proc = pixelflow.Qwen2VLImageProcessor.from_pretrained(QWEN2_VL, max_pixels=28 * 28 * 64)
    ds = ImageDataset(proc, str(folder))
    want = proc(ds.files[0], return_tensors="np")
    item = ds[0]
    assert np.array_equal(item["pixel_values"].numpy(), want["pixel_values"])
    assert np.array_equal(item["image_grid_thw"].numpy(), want["image_grid_thw"])  # (1, 3): items concatenate
