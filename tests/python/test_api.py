"""The transformers API, name for name, checked against the pinned transformers (its PIL
backend): loading with kwargs, unused kwargs, save/load round trips, settable attributes, every
input kind, return_tensors, BatchFeature, errors, post-processing, load_image."""
import json
import os
import pickle

import numpy as np
import pytest
import torch
import transformers
from PIL import Image
from transformers.image_utils import load_image as hf_load_image

import pixelflow
from conftest import DATA, model_dir, sample_images

CLIP = model_dir("openai/clip-vit-base-patch32")
SEGFORMER = model_dir("nvidia/segformer-b0-finetuned-ade-512-512")
VIDEOMAE = model_dir("MCG-NJU/videomae-base")


def assert_same(pf_out, hf_out):
    assert list(pf_out.keys()) == list(hf_out.keys())
    for k in hf_out.keys():
        a, b = pf_out[k], hf_out[k]
        if isinstance(b, list):
            assert isinstance(a, list) and len(a) == len(b), k
            for x, y in zip(a, b):
                assert np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(np.asarray(x), np.asarray(y)), k
        else:
            assert type(a) is type(b), (k, type(a), type(b))
            a, b = (a.numpy(), b.numpy()) if isinstance(b, torch.Tensor) else (a, b)
            assert a.dtype == b.dtype and a.shape == b.shape, k
            assert np.array_equal(a, b), k


def both(name, path=CLIP, **kwargs):
    return (getattr(pixelflow, name).from_pretrained(path, **kwargs),
            getattr(transformers, name).from_pretrained(path, **kwargs))


# ---- loading and saving -------------------------------------------------------------------

def test_every_supported_class_has_transformers_names():
    assert len(pixelflow.SUPPORTED_CLASSES) >= 18
    for name in pixelflow.SUPPORTED_CLASSES:
        cls, pil = getattr(pixelflow, name), getattr(pixelflow, name + "Pil")
        assert cls.__name__ == name and issubclass(pil, cls) and pil.__name__ == name + "Pil"
        assert hasattr(transformers, name)


def test_auto_picks_the_class_transformers_picks():
    for d in sorted(os.listdir(os.path.dirname(CLIP))):
        path = os.path.join(os.path.dirname(CLIP), d)
        if not os.path.isdir(path) or "SYNTHETIC" in d:
            continue
        ours = pixelflow.AutoImageProcessor.from_pretrained(path)
        theirs = transformers.AutoImageProcessor.from_pretrained(path, use_fast=False)
        assert type(ours).__name__ == type(theirs).__name__, d
        assert ours.to_dict() == theirs.to_dict(), d


def test_from_pretrained_kwargs_and_unused_kwargs():
    ours, unused = pixelflow.CLIPImageProcessor.from_pretrained(
        CLIP, do_normalize=False, size={"shortest_edge": 100}, foo=1, return_unused_kwargs=True)
    theirs, hf_unused = transformers.CLIPImageProcessor.from_pretrained(
        CLIP, do_normalize=False, size={"shortest_edge": 100}, foo=1, return_unused_kwargs=True)
    assert unused == hf_unused == {"foo": 1}
    assert ours.to_dict() == theirs.to_dict()
    assert ours.do_normalize is False and ours.size == {"shortest_edge": 100}


def test_from_pretrained_accepts_the_hub_keywords():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP, revision="main", cache_dir="/nonexistent",
                                                        force_download=False, local_files_only=True)
    assert proc.crop_size == {"height": 224, "width": 224}
    # A bundled model id, no network.
    assert type(pixelflow.AutoImageProcessor.from_pretrained("openai/clip-vit-base-patch32")).__name__ == \
        "CLIPImageProcessor"


def test_backend_keywords():
    assert type(pixelflow.AutoImageProcessor.from_pretrained(CLIP, backend="pil")).__name__ == "CLIPImageProcessor"
    assert type(pixelflow.AutoImageProcessor.from_pretrained(CLIP, use_fast=False)).__name__ == "CLIPImageProcessor"
    with pytest.raises(pixelflow.ConfigError, match="backend"):
        pixelflow.AutoImageProcessor.from_pretrained(CLIP, backend="torchvision")
    with pytest.raises(pixelflow.ConfigError, match="use_fast"):
        pixelflow.AutoImageProcessor.from_pretrained(CLIP, use_fast=True)


def test_save_pretrained_writes_what_transformers_writes(tmp_path):
    ours, theirs = both("CLIPImageProcessor", do_center_crop=False)
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    a = (tmp_path / "ours" / "preprocessor_config.json").read_text()
    b = (tmp_path / "theirs" / "preprocessor_config.json").read_text()
    assert a == b
    assert ours.to_json_string() == theirs.to_json_string()
    again = pixelflow.CLIPImageProcessor.from_pretrained(tmp_path / "ours")
    assert again.to_dict() == ours.to_dict()
    ours.to_json_file(tmp_path / "x.json")
    assert pixelflow.CLIPImageProcessor.from_json_file(tmp_path / "x.json").to_dict() == ours.to_dict()


def test_from_dict_and_constructor():
    d = json.load(open(os.path.join(CLIP, "preprocessor_config.json")))
    ours, unused = pixelflow.CLIPImageProcessor.from_dict(d, do_resize=False, bar=2, return_unused_kwargs=True)
    theirs, hf_unused = transformers.CLIPImageProcessor.from_dict(d, do_resize=False, bar=2,
                                                                  return_unused_kwargs=True)
    assert ours.to_dict() == theirs.to_dict() and unused == hf_unused
    assert pixelflow.CLIPImageProcessor(size={"shortest_edge": 64}).to_dict() == \
        transformers.CLIPImageProcessor(size={"shortest_edge": 64}).to_dict()


def test_attributes_are_settable_and_used_by_the_next_call():
    ours, theirs = both("CLIPImageProcessor")
    img = Image.open(sample_images()[0])
    for name, value in [("size", {"shortest_edge": 96}), ("crop_size", {"height": 80, "width": 64}),
                        ("do_normalize", False), ("image_mean", [0.1, 0.2, 0.3]), ("resample", 2)]:
        setattr(ours, name, value)
        setattr(theirs, name, value)
        assert getattr(ours, name) == value
        assert_same(ours(img, return_tensors="np"), theirs(img, return_tensors="np"))
    assert ours.to_dict() == theirs.to_dict()
    # In-place changes of a mutable attribute are seen too.
    ours.image_mean[0] = 0.9
    theirs.image_mean[0] = 0.9
    assert_same(ours(img, return_tensors="np"), theirs(img, return_tensors="np"))


def test_call_kwargs_and_unknown_kwargs():
    ours, theirs = both("CLIPImageProcessor")
    img = Image.open(sample_images()[1])
    kw = dict(size={"shortest_edge": 128}, crop_size={"height": 100, "width": 120}, resample=3, do_rescale=True,
              rescale_factor=1 / 128, image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.5, 1.0],
              data_format="channels_last", not_a_kwarg=3)
    assert_same(ours(img, return_tensors="np", **kw), theirs(img, return_tensors="np", **kw))
    assert_same(ours.preprocess(img, **kw), theirs.preprocess(img, **kw))


# ---- inputs and outputs -------------------------------------------------------------------

def test_every_input_kind_gives_transformers_bytes():
    ours, theirs = both("CLIPImageProcessor")
    paths = sample_images()
    pil = [Image.open(p) for p in paths]
    ref = theirs(pil, return_tensors="np")
    assert_same(ours(pil, return_tensors="np"), ref)
    assert_same(ours(paths, return_tensors="np"), ref)  # decoded by pixelflow
    assert_same(ours([open(p, "rb").read() for p in paths], return_tensors="np"), ref)
    arrays = [np.array(im.convert("RGB")) for im in pil]
    ref_arrays = theirs(arrays, return_tensors="np")
    assert_same(ours(arrays, return_tensors="np"), ref_arrays)
    assert_same(ours([torch.from_numpy(a) for a in arrays], return_tensors="np"), ref_arrays)
    chw = [np.ascontiguousarray(a.transpose(2, 0, 1)) for a in arrays]
    assert_same(ours(chw, return_tensors="np"), theirs(chw, return_tensors="np"))
    f = [a.astype(np.float32) / 255 for a in arrays]
    assert_same(ours(f, do_rescale=False, return_tensors="np"), theirs(f, do_rescale=False, return_tensors="np"))
    # input_data_format given explicitly, non-contiguous views
    view = arrays[0][::2, ::3]
    assert_same(ours(view, input_data_format="channels_last", return_tensors="np"),
                theirs(view, input_data_format="channels_last", return_tensors="np"))


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(os.path.join(DATA, "decode"))
                                        if f.startswith(("jpeg_", "png_", "bmp_", "webp_"))))
def test_pil_images_of_every_mode(name):
    path = os.path.join(DATA, "decode", name)
    try:
        img = Image.open(path)
        img.load()
    except Exception:  # a corrupt-file fixture: pixelflow must refuse it too, naming the file
        with pytest.raises(pixelflow.Error, match=name):
            pixelflow.CLIPImageProcessor.from_pretrained(CLIP)(path)
        return
    for cls in ("CLIPImageProcessor", "ViTImageProcessor"):
        ours, theirs = both(cls, path=CLIP if cls.startswith("CLIP") else model_dir("google/vit-base-patch16-224"))
        try:
            ref = theirs(img, return_tensors="np")
        except Exception as e:
            with pytest.raises((ValueError, type(e))):
                ours(img, return_tensors="np")
            continue
        assert_same(ours(img, return_tensors="np"), ref)
        assert_same(ours(path, return_tensors="np"), ref)


def test_return_tensors_forms_and_zero_copy():
    ours, theirs = both("CLIPImageProcessor")
    imgs = [Image.open(p) for p in sample_images()]
    none = ours(imgs)
    assert isinstance(none["pixel_values"], list)
    assert_same(none, theirs(imgs))
    np_out = ours(imgs, return_tensors="np")
    a = np_out["pixel_values"]
    assert isinstance(a, np.ndarray) and a.base is not None and not a.flags.owndata  # pixelflow's buffer
    pt = ours(imgs, return_tensors="pt")
    assert_same(pt, theirs(imgs, return_tensors="pt"))
    t = pt["pixel_values"]
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert_same(ours(imgs, return_tensors=transformers.TensorType.PYTORCH), theirs(imgs, return_tensors="pt"))


def test_batch_feature():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    bf = proc([Image.open(p) for p in sample_images()], return_tensors="np")
    assert isinstance(bf, dict) and isinstance(bf, pixelflow.BatchFeature)
    assert bf.pixel_values is bf["pixel_values"]
    with pytest.raises(AttributeError):
        bf.nope
    again = pickle.loads(pickle.dumps(bf))
    assert isinstance(again, pixelflow.BatchFeature) and np.array_equal(again["pixel_values"], bf["pixel_values"])
    # DLPack, for other frameworks
    assert np.array_equal(np.from_dlpack(bf["pixel_values"]), bf["pixel_values"])
    assert torch.equal(torch.from_dlpack(bf["pixel_values"]), torch.from_numpy(bf["pixel_values"]))
    bf.convert_to_tensors("pt")
    assert isinstance(bf["pixel_values"], torch.Tensor)
    half = bf.to(torch.float16)
    assert half is bf and bf["pixel_values"].dtype == torch.float16
    assert bf.to("cpu")["pixel_values"].device.type == "cpu"
    listed = proc([Image.open(p) for p in sample_images()])
    listed.convert_to_tensors("np")
    assert isinstance(listed["pixel_values"], np.ndarray) and listed["pixel_values"].ndim == 4


def test_inputs_are_not_modified():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    a = np.array(Image.open(sample_images()[0]).convert("RGB"))
    keep = a.copy()
    for kw in ({}, {"do_resize": False, "do_center_crop": False}, {"do_rescale": False, "do_normalize": False}):
        proc(a, return_tensors="np", **kw)
        assert np.array_equal(a, keep)
    f = a.astype(np.float32)
    keepf = f.copy()
    proc(f, do_resize=False, do_center_crop=False, return_tensors="np")
    assert np.array_equal(f, keepf)


def test_segmentation_maps_and_post_processing():
    ours, theirs = both("SegformerImageProcessor", path=SEGFORMER)
    img = Image.open(sample_images()[0]).convert("RGB")
    rng = np.random.default_rng(0)
    label = rng.integers(0, 151, size=(img.height, img.width), dtype=np.uint8)
    for kw in ({}, {"do_reduce_labels": True}):
        assert_same(ours(img, segmentation_maps=label, return_tensors="np", **kw),
                    theirs(img, segmentation_maps=label, return_tensors="np", **kw))
        assert_same(ours(img, Image.fromarray(label, mode="L"), return_tensors="pt", **kw),
                    theirs(img, Image.fromarray(label, mode="L"), return_tensors="pt", **kw))
    logits = torch.from_numpy(rng.standard_normal((2, 150, 32, 40)).astype(np.float32))

    class Out:
        pass

    out = Out()
    out.logits = logits
    for sizes in (None, [(64, 80), (17, 33)]):
        ref = theirs.post_process_semantic_segmentation(out, target_sizes=sizes)
        got = ours.post_process_semantic_segmentation(out, target_sizes=sizes)
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert isinstance(g, torch.Tensor) and g.dtype == r.dtype and torch.equal(g, r)
        got_np = ours.post_process_semantic_segmentation(logits.numpy(), target_sizes=sizes)
        for g, r in zip(got_np, ref):
            assert isinstance(g, np.ndarray) and np.array_equal(g, r.numpy())
    with pytest.raises(ValueError):
        ours.post_process_semantic_segmentation(out, target_sizes=[(4, 4)])


def test_videos():
    ours, theirs = both("VideoMAEImageProcessor", path=VIDEOMAE)
    frames = [Image.open(p).convert("RGB") for p in sample_images()[:2]] * 2
    frames = [f.resize((160, 120)) for f in frames]
    assert_same(ours(frames, return_tensors="np"), theirs(frames, return_tensors="np"))
    assert_same(ours([frames, frames[::-1]], return_tensors="pt"), theirs([frames, frames[::-1]], return_tensors="pt"))


def test_load_image_matches_transformers():
    for name in ("jpeg_orientation_6.jpg", "jpeg_cmyk_adobe.jpg", "jpeg_gray.jpg"):
        path = os.path.join(DATA, "decode", name)
        ref = np.array(hf_load_image(path))
        for src in (path, open(path, "rb").read(), Image.open(path)):
            got = pixelflow.load_image(src)
            assert isinstance(got, Image.Image) and got.mode == "RGB"
            assert np.array_equal(np.array(got), ref), name
    import base64
    data = open(sample_images()[0], "rb").read()
    assert np.array_equal(np.array(pixelflow.load_image(base64.b64encode(data).decode())),
                          np.array(hf_load_image(sample_images()[0])))
    with pytest.raises(TypeError):
        pixelflow.load_image(3)


# ---- errors -------------------------------------------------------------------------------

def test_errors_are_value_errors_with_one_line_naming_the_thing(tmp_path):
    assert issubclass(pixelflow.Error, ValueError)
    for e in (pixelflow.ConfigError, pixelflow.DecodeError, pixelflow.InputError):
        assert issubclass(e, pixelflow.Error)
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(pixelflow.DecodeError) as e:
        proc([sample_images()[0], str(bad)], return_tensors="np")
    assert "broken.jpg" in str(e.value) and "\n" not in str(e.value)
    # The error's fields come along as attributes.
    assert e.value.file == str(bad) and e.value.problem and e.value.problem in str(e.value)
    assert e.value.key_path is None
    with pytest.raises(pixelflow.ConfigError) as e:
        proc(sample_images()[0], size={"shortest_edge": -3})
    assert "size" in str(e.value) and "\n" not in str(e.value)
    assert e.value.key_path.startswith("size") and e.value.file is None
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "preprocessor_config.json").write_text('{"image_processor_type": "CLIPImageProcessor", "image_std": [0, 1, 1]}')
    with pytest.raises(pixelflow.ConfigError) as e:
        pixelflow.AutoImageProcessor.from_pretrained(cfg)
    assert "image_std" in str(e.value) and "preprocessor_config.json" in str(e.value)
    assert e.value.key_path.startswith("image_std") and e.value.where.endswith("preprocessor_config.json")
    with pytest.raises(pixelflow.InputError):
        proc(object())
    with pytest.raises(ValueError):
        proc(sample_images()[0], return_tensors="tf")
    # A failed call loses nothing else: the processor keeps working.
    assert proc(sample_images()[0], return_tensors="np")["pixel_values"].shape == (1, 3, 224, 224)


def test_processor_pickles():
    proc = pixelflow.CLIPImageProcessor.from_pretrained(CLIP, size={"shortest_edge": 112})
    proc(sample_images()[0])  # a cached prepared call must not break pickling
    again = pickle.loads(pickle.dumps(proc))
    assert type(again) is type(proc) and again.to_dict() == proc.to_dict()
    assert np.array_equal(again(sample_images()[0], return_tensors="np")["pixel_values"],
                          proc(sample_images()[0], return_tensors="np")["pixel_values"])
