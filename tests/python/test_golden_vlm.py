"""pixelflow against the committed Qwen2-VL goldens (tests/data/golden_vlm/qwen2vl, made by
tests/tools/make_qwen2vl_golden.py with transformers' PIL backend): the inputs as file paths
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


def _cases():
    with open(os.path.join(GOLDEN, "cases.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


CASES = _cases()


def _config(case):
    with open(os.path.join(GOLDEN, case["config"]), encoding="utf-8") as f:
        return json.load(f)


def _digest(value):
    a = np.ascontiguousarray(value.numpy() if hasattr(value, "numpy") else np.asarray(value))
    return [list(a.shape), str(a.dtype), hashlib.sha256(a.tobytes()).hexdigest()]


def test_golden_folder():
    assert len(CASES) >= 15 and sum("error" in c for c in CASES) >= 3
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(GOLDEN) for n in ns)
    assert total <= 1_500_000


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_pixelflow_matches_golden(case):
    proc = pixelflow.Qwen2VLImageProcessor.from_json_file(os.path.join(GOLDEN, case["config"]))
    files = [os.path.join(GOLDEN, i["file"]) for i in case["inputs"]]
    images = files[0] if case["structure"] == "single" else files
    if "error" in case:
        with pytest.raises(pixelflow.InputError) as e:
            proc(images, **copy.deepcopy(case["call_kwargs"]))
        assert case["inputs"][case["error"]["input"]]["file"] in str(e.value)
        return
    out = proc(images, **copy.deepcopy(case["call_kwargs"]))
    assert sorted(out.keys()) == sorted(o["name"] for o in case["outputs"])
    for o in case["outputs"]:
        assert _digest(out[o["name"]]) == [o["shape"], o["dtype"], o["sha256"]], o["name"]
        np.testing.assert_array_equal(np.load(os.path.join(GOLDEN, o["file"])), np.asarray(out[o["name"]]))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_remade_by_transformers(case):
    transformers = pytest.importorskip("transformers")
    PIL_Image = pytest.importorskip("PIL.Image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proc = transformers.Qwen2VLImageProcessor.from_dict(_config(case))
        images = [PIL_Image.open(os.path.join(GOLDEN, i["file"])) for i in case["inputs"]]
        images = images[0] if case["structure"] == "single" else images
        if "error" in case:
            with pytest.raises(Exception) as e:
                proc(images, **copy.deepcopy(case["call_kwargs"]))
            assert (type(e.value).__name__, str(e.value)[:200]) == (case["error"]["type"], case["error"]["message"])
            return
        out = proc(images, **copy.deepcopy(case["call_kwargs"]))
    for o in case["outputs"]:
        assert _digest(out[o["name"]]) == [o["shape"], o["dtype"], o["sha256"]], o["name"]
