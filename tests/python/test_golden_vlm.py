"""pixelflow against the committed VLM goldens (tests/data/golden_vlm/qwen2vl, made by
tests/tools/make_qwen2vl_golden.py, and tests/data/golden_vlm/tiling: GOT-OCR2, Gemma 3,
LLaVA-NeXT, LLaVA-OneVision and the DETR family, made by tests/tools/make_tiling_golden.py, both
with transformers' PIL backend): the inputs as file paths
(decoded by pixelflow, as the C++ golden test reads them), each output's shape, dtype and SHA-256,
and the error cases raise (pixelflow.InputError naming the failing file). With transformers
installed, the goldens are also re-made in memory, to catch a transformers / Pillow version whose
bytes differ from the committed ones."""
import copy
import hashlib
import json
import os
import warnings

import numpy as np
import pytest

import pixelflow

from conftest import DATA

GOLDEN = os.path.join(DATA, "golden_vlm", "qwen2vl")
TILING = os.path.join(DATA, "golden_vlm", "tiling")


def _cases(folder):
    with open(os.path.join(folder, "cases.jsonl"), encoding="utf-8") as f:
        return [dict(json.loads(line), folder=folder) for line in f if line.strip()]


CASES = _cases(GOLDEN)
TILING_CASES = _cases(TILING)
ALL_CASES = CASES + TILING_CASES
IDS = [os.path.basename(c["folder"]) + "/" + c["id"] for c in ALL_CASES]


def _config(case):
    with open(os.path.join(case["folder"], case["config"]), encoding="utf-8") as f:
        return json.load(f)


def _images(case, items):
    """The call's images argument: one item, a list, or nested lists (groups)."""
    if case["structure"] == "single":
        return items[0]
    if case["structure"] == "groups":
        return [[items[i] for i in g] for g in case["groups"]]
    return items


def _digest(value):
    a = np.ascontiguousarray(value.numpy() if hasattr(value, "numpy") else np.asarray(value))
    return [list(a.shape), str(a.dtype), hashlib.sha256(a.tobytes()).hexdigest()]


def test_golden_folder():
    assert len(CASES) >= 15 and sum("error" in c for c in CASES) >= 3
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(GOLDEN) for n in ns)
    assert total <= 1_500_000
    assert {c["processor_class"] for c in TILING_CASES} == {
        "GotOcr2ImageProcessor", "Gemma3ImageProcessor", "LlavaNextImageProcessor", "LlavaOnevisionImageProcessor",
        "Idefics3ImageProcessor", "SmolVLMImageProcessor", "DetrImageProcessor", "ConditionalDetrImageProcessor", "DeformableDetrImageProcessor", "YolosImageProcessor",
        "RTDetrImageProcessor"}


@pytest.mark.parametrize("case", ALL_CASES, ids=IDS)
def test_pixelflow_matches_golden(case):
    cls = getattr(pixelflow, case["processor_class"])
    proc = cls.from_json_file(os.path.join(case["folder"], case["config"]))
    files = [os.path.join(case["folder"], i["file"]) for i in case["inputs"]]
    images = _images(case, files)
    if "error" in case:
        with pytest.raises(pixelflow.InputError) as e:
            proc(images, **copy.deepcopy(case["call_kwargs"]))
        assert case["inputs"][case["error"]["input"]]["file"] in str(e.value)
        return
    out = proc(images, **copy.deepcopy(case["call_kwargs"]))
    assert sorted(out.keys()) == sorted(o["name"] for o in case["outputs"])
    for o in case["outputs"]:
        assert _digest(out[o["name"]]) == [o["shape"], o["dtype"], o["sha256"]], o["name"]
        if "file" in o:
            np.testing.assert_array_equal(np.load(os.path.join(case["folder"], o["file"])), np.asarray(out[o["name"]]))


@pytest.mark.parametrize("case", ALL_CASES, ids=IDS)
def test_golden_remade_by_transformers(case):
    transformers = pytest.importorskip("transformers")
    PIL_Image = pytest.importorskip("PIL.Image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proc = getattr(transformers, case["processor_class"]).from_dict(_config(case))
        images = _images(case, [PIL_Image.open(os.path.join(case["folder"], i["file"])) for i in case["inputs"]])
        if "error" in case:
            with pytest.raises(Exception) as e:
                proc(images, **copy.deepcopy(case["call_kwargs"]))
            assert (type(e.value).__name__, str(e.value)[:200]) == (case["error"]["type"], case["error"]["message"])
            return
        out = proc(images, **copy.deepcopy(case["call_kwargs"]))
    for o in case["outputs"]:
        assert _digest(out[o["name"]]) == [o["shape"], o["dtype"], o["sha256"]], o["name"]
