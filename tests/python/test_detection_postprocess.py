"""pixelflow's post_process_object_detection (pixelflow.post_processing) against transformers' own,
per class (DetrImageProcessor, YolosImageProcessor, ConditionalDetrImageProcessor,
DeformableDetrImageProcessor, RTDetrImageProcessor, each constructed with its defaults), on
hypothesis-generated logits and boxes: random N, Q, C, dtypes, tied logits, thresholds (some equal
to a score), target sizes as lists and as tensors of several dtypes, top_k values up to past Q * C,
use_focal_loss. Same labels, the same number and order of detections, boxes bit-equal, scores
within 1e-6; where transformers raises, pixelflow raises a ValueError subclass.
"""
import numpy as np
import pytest
import torch
import transformers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pixelflow
from pixelflow.post_processing import object_detection_classes, post_process_object_detection_for

CLASSES = ["DetrImageProcessor", "YolosImageProcessor", "ConditionalDetrImageProcessor",
           "DeformableDetrImageProcessor", "RTDetrImageProcessor"]
_HF = {}
STATS = {"scores": 0, "scores_bit_equal": 0, "boxes": 0}


def hf_processor(cls):
    if cls not in _HF:
        _HF[cls] = getattr(transformers, cls)()
    return _HF[cls]


class Outputs:
    def __init__(self, logits, pred_boxes):
        self.logits, self.pred_boxes = logits, pred_boxes


@st.composite
def cases(draw):
    cls = draw(st.sampled_from(CLASSES))
    n = draw(st.integers(0, 3))
    q = draw(st.integers(0, 40))
    c = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float32, np.float64]))
    box_dtype = draw(st.sampled_from([np.float32, np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    style = draw(st.sampled_from(["normal", "ties", "equal"]))
    logits = rng.standard_normal((n, q, c)) * draw(st.sampled_from([1.0, 3.0, 8.0]))
    if style == "ties":  # few distinct values: equal scores in top-k and max
        logits = np.round(logits / 2) * 2
    elif style == "equal":
        logits = np.zeros((n, q, c))
    logits = logits.astype(dtype)
    boxes = rng.uniform(-0.1, 1.1, (n, q, 4)).astype(box_dtype)
    # thresholds: plain ones, and exact scores (1/C of equal logits, sigmoid(0) = 0.5, ...).
    threshold = draw(st.one_of(st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, -1.0, 1.0, 1.0 / max(c, 1)]),
                               st.floats(-0.5, 1.0, allow_nan=False)))
    kind = draw(st.sampled_from(["none", "list", "list_float", "tensor_int", "tensor_f32", "tensor_f64",
                                 "wrong_length"]))
    sizes = [(int(h), int(w)) for h, w in rng.integers(1, 2000, (n, 2))]
    if kind == "none":
        target_sizes = None
    elif kind == "list":
        target_sizes = sizes
    elif kind == "list_float":
        target_sizes = [(h + 0.5, w * 1.25) for h, w in sizes]
    elif kind == "tensor_int":
        target_sizes = torch.tensor(sizes, dtype=torch.int64).reshape(n, 2)
    elif kind == "tensor_f32":
        target_sizes = torch.tensor(sizes, dtype=torch.float32).reshape(n, 2) * 1.5
    elif kind == "tensor_f64":
        target_sizes = torch.tensor(sizes, dtype=torch.float64).reshape(n, 2) / 3
    else:
        target_sizes = sizes + [(10, 10)]
    extra = {}
    if cls in ("ConditionalDetrImageProcessor", "DeformableDetrImageProcessor") and draw(st.booleans()):
        extra["top_k"] = draw(st.sampled_from([0, 1, 3, 10, 100, q * c, q * c + 1, 10**6]))
    if cls == "RTDetrImageProcessor" and draw(st.booleans()):
        extra["use_focal_loss"] = draw(st.booleans())
    return cls, logits, boxes, threshold, target_sizes, extra


def run_both(cls, logits, boxes, threshold, target_sizes, extra):
    try:
        want = hf_processor(cls).post_process_object_detection(
            Outputs(torch.from_numpy(logits), torch.from_numpy(boxes)), threshold, target_sizes, **extra)
        hf_error = None
    except Exception as e:  # noqa: BLE001 - any error transformers raises
        want, hf_error = None, e
    method = post_process_object_detection_for(cls)
    if hf_error is not None:
        with pytest.raises(ValueError):
            method(None, Outputs(torch.from_numpy(logits), torch.from_numpy(boxes)), threshold, target_sizes, **extra)
        return
    got = method(None, Outputs(torch.from_numpy(logits), torch.from_numpy(boxes)), threshold, target_sizes, **extra)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert set(g) == {"scores", "labels", "boxes"}
        for key in ("scores", "labels", "boxes"):
            assert isinstance(g[key], torch.Tensor)
            assert g[key].dtype == w[key].dtype, (key, g[key].dtype, w[key].dtype)
            assert g[key].shape == w[key].shape, (key, g[key].shape, w[key].shape)
        assert torch.equal(g["labels"], w["labels"])
        assert torch.equal(g["boxes"], w["boxes"])
        assert torch.allclose(g["scores"], w["scores"], rtol=0, atol=1e-6)
        STATS["scores"] += g["scores"].numel()
        STATS["scores_bit_equal"] += int((g["scores"] == w["scores"]).sum())
        STATS["boxes"] += g["boxes"].numel()


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(cases())
def test_matches_transformers(case):
    run_both(*case)


def test_bit_equal_share():
    """Run after test_matches_transformers (file order): most scores are bit-equal to torch's."""
    if STATS["scores"] == 0:
        pytest.skip("no scores compared")
    share = STATS["scores_bit_equal"] / STATS["scores"]
    print(f"\nscores bit-equal: {STATS['scores_bit_equal']} of {STATS['scores']} ({share:.4f}); "
          f"boxes bit-equal: {STATS['boxes']} of {STATS['boxes']}")
    assert share > 0.5


@pytest.mark.parametrize("cls", CLASSES)
def test_signature_and_defaults(cls):
    import inspect
    want = inspect.signature(getattr(transformers, cls).post_process_object_detection)
    got = inspect.signature(post_process_object_detection_for(cls))
    assert list(got.parameters) == list(want.parameters)
    assert [p.default for p in got.parameters.values()] == [p.default for p in want.parameters.values()]
    assert post_process_object_detection_for(cls + "Fast") is not None


def test_realistic_sizes_and_numpy():
    """300 queries x 91 classes (Deformable DETR), 100 x 92 (DETR); NumPy outputs give NumPy results."""
    rng = np.random.default_rng(0)
    for cls, (q, c) in (("DeformableDetrImageProcessor", (300, 91)), ("DetrImageProcessor", (100, 92)),
                        ("RTDetrImageProcessor", (300, 80))):
        logits = (rng.standard_normal((2, q, c)) * 4).astype(np.float32)
        boxes = rng.uniform(0, 1, (2, q, 4)).astype(np.float32)
        run_both(cls, logits, boxes, 0.3, [(480, 640), (800, 1066)], {})
        got = post_process_object_detection_for(cls)(None, {"logits": logits, "pred_boxes": boxes}, 0.3)
        assert isinstance(got[0]["scores"], np.ndarray) and got[0]["labels"].dtype == np.int64


def test_errors():
    method = post_process_object_detection_for("DetrImageProcessor")
    logits = torch.zeros(2, 3, 4)
    boxes = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="as many target sizes"):
        method(None, Outputs(logits, boxes), 0.5, [(1, 1)])
    with pytest.raises(pixelflow.InputError):
        method(None, Outputs(logits.to(torch.int64), boxes))
    with pytest.raises(ValueError):
        method(None, Outputs(logits, torch.zeros(2, 3, 5)))
    with pytest.raises(pixelflow.ConfigError):
        post_process_object_detection_for("ViTImageProcessor")
    with pytest.raises(ValueError):
        post_process_object_detection_for("DeformableDetrImageProcessor")(None, Outputs(logits, boxes), top_k=-1)
    assert "RTDetrImageProcessor" in object_detection_classes()
