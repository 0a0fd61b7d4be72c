"""Differential tests of the DETR family (Detr, ConditionalDetr, DeformableDetr, Yolos, RTDetr)
against transformers' slow processors: hypothesis-generated images (sizes 1..2000, aspect ratios up
to 1:20, PIL modes and NumPy arrays), configs (every key, legacy max_size / pad_and_return_pixel_mask),
call kwargs, COCO-detection annotations (random boxes, degenerate, crowd, outside the image) and
batches of different sizes. Outputs must be equal (floats within 1e-6; bit-equality is counted and
demanded with PIXELFLOW_DIFF_BITEXACT=1), labels included, or both must raise.

PIXELFLOW_HYPOTHESIS_EXAMPLES (default 50) sets the examples per class.
"""
import copy
import os
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import pixelflow
import transformers

from test_differential import Raised, _call, compare_values, make_image, new_report

DETR_CLASSES = ["DetrImageProcessor", "ConditionalDetrImageProcessor", "DeformableDetrImageProcessor",
                "YolosImageProcessor", "RTDetrImageProcessor"]
MAX_EXAMPLES = int(os.environ.get("PIXELFLOW_HYPOTHESIS_EXAMPLES", "50"))
SEED = os.environ.get("PIXELFLOW_HYPOTHESIS_SEED")
KINDS = ["RGB", "L", "RGBA", "P", "u8_hwc", "u8_chw", "f32_hwc", "f64_chw"]
PIXEL_BUDGET = 8_000_000
REPORTS = {name: new_report() for name in DETR_CLASSES}


def compare(path, ref, got, report):
    """compare_values, recursing into the per-image label dicts (same keys, same order)."""
    if isinstance(ref, Mapping) or isinstance(got, Mapping):
        if not (isinstance(ref, Mapping) and isinstance(got, Mapping)):
            return [f"{path}: transformers gives {type(ref).__name__}, pixelflow {type(got).__name__}"]
        if list(ref.keys()) != list(got.keys()):
            return [f"{path}: keys transformers {list(ref.keys())}, pixelflow {list(got.keys())}"]
        out = []
        for k in ref.keys():
            out += compare(f"{path}.{k}", ref[k], got[k], report)
        return out
    if isinstance(ref, (list, tuple)) and isinstance(got, (list, tuple)) and ref and isinstance(ref[0], Mapping):
        if type(ref) is not type(got) or len(ref) != len(got):
            return [f"{path}: transformers {type(ref).__name__}[{len(ref)}], pixelflow {type(got).__name__}[{len(got)}]"]
        out = []
        for i, (r, g) in enumerate(zip(ref, got)):
            out += compare(f"{path}[{i}]", r, g, report)
        return out
    if isinstance(ref, tuple) and isinstance(got, tuple):  # labels' size with return_tensors=None
        return [] if ref == got else [f"{path}: {ref} != {got}"]
    return compare_values(path, ref, got, report)


def run_both(cls, config, images, kwargs, report):
    ref = _call(transformers, cls, copy.deepcopy(config), copy.deepcopy(images), copy.deepcopy(kwargs))
    got = _call(pixelflow, cls, copy.deepcopy(config), images, copy.deepcopy(kwargs))
    report["examples"] += 1
    if isinstance(ref, Raised) and isinstance(got, Raised):
        report["both_raised"] += 1
        report["tf_messages"][f"{type(ref.exc).__name__}: {str(ref.exc)[:70]}"] += 1
        if not isinstance(got.exc, ValueError):
            return [f"pixelflow raised {type(got.exc).__name__}: {got.exc}"]
        return []
    if isinstance(ref, Raised) or isinstance(got, Raised):
        return [f"transformers {ref if not isinstance(ref, Raised) else repr(ref.exc)[:300]}\n"
                f"pixelflow {got if not isinstance(got, Raised) else repr(got.exc)[:300]}"]
    report["both_ok"] += 1
    return compare("", dict(ref), dict(got), report)


# ---- strategies ---------------------------------------------------------------------------------

@st.composite
def image_size(draw):
    short = draw(st.one_of(st.integers(1, 64), st.integers(1, 700)))
    ratio = draw(st.floats(1.0, 20.0))
    long = min(2000, max(short, int(short * ratio)))
    return (short, long) if draw(st.booleans()) else (long, short)


@st.composite
def sizes(draw, cls):
    forms = [
        {"shortest_edge": draw(st.integers(8, 900)), "longest_edge": draw(st.integers(16, 1400))},
        {"max_height": draw(st.integers(1, 900)), "max_width": draw(st.integers(1, 900))},
        {"height": draw(st.integers(1, 900)), "width": draw(st.integers(1, 900))},
        {"shortest_edge": draw(st.integers(8, 900))},  # resize() raises
        draw(st.integers(8, 800)),
    ]
    return draw(st.sampled_from(forms))


@st.composite
def configs(draw, cls):
    c = {}
    for key, strat in [
        ("do_resize", st.booleans()),
        ("size", sizes(cls)),
        ("resample", st.sampled_from([0, 1, 2, 3, 4, 5])),
        ("do_rescale", st.booleans()),
        ("rescale_factor", st.sampled_from([1 / 255, 0.5, 2.0])),
        ("do_normalize", st.booleans()),
        ("image_mean", st.sampled_from([[0.485, 0.456, 0.406], 0.5, [0.1, 0.2, 0.3]])),
        ("image_std", st.sampled_from([[0.229, 0.224, 0.225], 0.5, [1.0, 2.0, 3.0]])),
        ("do_convert_annotations", st.sampled_from([True, False, None])),
        ("do_pad", st.booleans()),
        ("pad_size", st.sampled_from([None, {"height": 1400, "width": 1400}, {"height": 300, "width": 500}])),
        ("format", st.sampled_from(["coco_detection", "coco_detection", "coco_panoptic"])),
    ]:
        if draw(st.integers(0, 2)) == 0:
            c[key] = draw(strat)
    if cls != "RTDetrImageProcessor":
        if draw(st.integers(0, 4)) == 0:
            c["max_size"] = draw(st.integers(100, 1500))
        if draw(st.integers(0, 6)) == 0:
            c["pad_and_return_pixel_mask"] = draw(st.booleans())
    return c


@st.composite
def call_kwargs(draw):
    kw = {"return_tensors": draw(st.sampled_from([None, "np", "pt"]))}
    if draw(st.integers(0, 3)) == 0:
        kw["data_format"] = draw(st.sampled_from(["channels_first", "channels_last", None]))
    if draw(st.integers(0, 4)) == 0:
        kw["do_pad"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        kw["do_convert_annotations"] = draw(st.booleans())
    if draw(st.integers(0, 5)) == 0:
        kw["size"] = draw(st.sampled_from([{"height": 64, "width": 96}, {"shortest_edge": 100, "longest_edge": 200},
                                           {"max_height": 120, "max_width": 80}]))
    if draw(st.integers(0, 6)) == 0:
        kw["pad_size"] = draw(st.sampled_from([{"height": 2100, "width": 2100}, {"height": 10, "width": 10}]))
    return kw


def _coord(draw, lo, hi):
    return draw(st.one_of(st.integers(lo, hi), st.floats(lo, hi, allow_nan=False, width=32)))


@st.composite
def annotation(draw, h, w, image_id):
    objs = []
    for _ in range(draw(st.integers(0, 6))):
        o = {"bbox": [_coord(draw, -50, w + 50), _coord(draw, -50, h + 50), _coord(draw, -10, w + 100),
                      _coord(draw, -10, h + 100)],
             "category_id": draw(st.integers(0, 90)),
             "area": draw(st.floats(0, 1e6, allow_nan=False))}
        crowd = draw(st.sampled_from([None, 0, 0, 1]))
        if crowd is not None:
            o["iscrowd"] = crowd
        objs.append(o)
    return {"image_id": image_id, "annotations": objs}


@st.composite
def cases(draw, cls):
    config = draw(configs(cls))
    n = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(KINDS))
    shapes = [draw(image_size()) for _ in range(n)]
    if sum(h * w for h, w in shapes) > PIXEL_BUDGET:
        shapes = [(min(h, 300), min(w, 300)) for h, w in shapes]
    images = [make_image(kind, h, w, draw(st.integers(0, 2**31))) for h, w in shapes]
    kwargs = draw(call_kwargs())
    if draw(st.integers(0, 3)) != 0:
        anns = [draw(annotation(h, w, i)) for i, (h, w) in enumerate(shapes)]
        kwargs["annotations"] = anns[0] if n == 1 and draw(st.booleans()) else anns
    return config, images, kwargs


def _settings():
    return settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=SEED is None,
                    suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("cls", DETR_CLASSES)
def test_differential_detr(cls):
    report = REPORTS[cls]

    @_settings()
    @given(case=cases(cls))
    def check(case):
        config, images, kwargs = case
        problems = run_both(cls, config, images, kwargs, report)
        assert not problems, "\n".join(problems) + f"\nconfig {config}\nkwargs {kwargs}"

    if SEED is not None:
        check = seed(int(SEED))(check)
    check()
    print(f"\n{cls}: {report['examples']} examples, {report['both_ok']} both ok, {report['both_raised']} both raised, "
          f"{report['bit_identical']} arrays bit-identical, {report['near']} within 1e-6")
    assert report["both_ok"] > 0


def test_bundled_configs_match():
    """The bundled configs with a fixed batch of different sizes and annotations."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(480, 640), (301, 199), (37, 700)]]
    anns = [{"image_id": i, "annotations": [
        {"bbox": [10.5, 20, 100, 50], "category_id": 3, "area": 5000.0, "iscrowd": 0},
        {"bbox": [-5, -5, 30, 1000], "category_id": 1, "area": 12.0},
        {"bbox": [1, 1, 0, 5], "category_id": 2, "area": 1.0},
        {"bbox": [1, 1, 5, 5], "category_id": 2, "area": 1.0, "iscrowd": 1}]} for i in range(3)]
    here = os.path.dirname(os.path.abspath(__file__))
    models = os.path.join(here, "..", "..", "pipelines", "models")
    for cls, folder in [("DetrImageProcessor", "facebook__detr-resnet-50"),
                        ("ConditionalDetrImageProcessor", "microsoft__conditional-detr-resnet-50"),
                        ("DeformableDetrImageProcessor", "SenseTime__deformable-detr"),
                        ("YolosImageProcessor", "hustvl__yolos-small"),
                        ("RTDetrImageProcessor", "PekingU__rtdetr_r50vd")]:
        ref_proc = getattr(transformers, cls).from_pretrained(os.path.join(models, folder))
        got_proc = getattr(pixelflow, cls).from_pretrained(os.path.join(models, folder))
        for rt in [None, "np", "pt"]:
            for a in [None, anns]:
                kwargs = {"return_tensors": rt}
                if a is not None:
                    kwargs["annotations"] = a
                report = Counter()
                ref = ref_proc(copy.deepcopy(images), **copy.deepcopy(kwargs))
                got = got_proc(images, **copy.deepcopy(kwargs))
                problems = compare("", dict(ref), dict(got), new_report())
                assert not problems, f"{cls} {rt} {a is not None}: {problems}"
