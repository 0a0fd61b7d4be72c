#!/usr/bin/env python3
"""Writes the object-detection post-processing goldens under
tests/data/post_process/object_detection/ with transformers' own post_process_object_detection
(the classes constructed with their defaults). Run with the venv holding transformers 5.0.0 and
torch 2.13 (build/venv/bin/python tests/tools/make_detection_goldens.py); the C++ test
(tests/ops/test_post_process_object_detection.cpp) reads them without Python.

Per case NAME: NAME_logits.npy (N, Q, C), NAME_boxes.npy (N, Q, 4) and, per image i,
NAME_<i>_scores.npy, NAME_<i>_labels.npy, NAME_<i>_out_boxes.npy; cases.json lists the cases with
the call's arguments.
"""
import json
import os
import sys
import warnings

import numpy as np
import torch
import transformers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "post_process", "object_detection")


class Outputs:
    def __init__(self, logits, pred_boxes):
        self.logits, self.pred_boxes = logits, pred_boxes


def make_inputs(seed, n, q, c, ties=False):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, q, c)) * 3).astype(np.float32)
    if ties:  # repeated values: equal scores that top-k / max must order as torch does
        logits = np.round(logits).astype(np.float32)
    boxes = rng.uniform(0, 1, (n, q, 4)).astype(np.float32)
    return logits, boxes


CASES = [
    # name, class, seed, (N, Q, C), ties, kwargs
    ("detr_sizes", "DetrImageProcessor", 1, (2, 20, 6), False, {"threshold": 0.3, "target_sizes": [[480, 640], [300, 501]]}),
    ("detr_none", "DetrImageProcessor", 2, (2, 15, 92), False, {"threshold": 0.05}),
    ("yolos_ties", "YolosImageProcessor", 3, (3, 10, 5), True, {"threshold": 0.2, "target_sizes": [[10, 20], [30, 40], [50, 60]]}),
    ("cond_detr_topk", "ConditionalDetrImageProcessor", 4, (2, 30, 8), False, {"threshold": 0.2, "target_sizes": [[480, 640], [800, 1066]], "top_k": 10}),
    ("deform_ties_bigk", "DeformableDetrImageProcessor", 5, (2, 7, 5), True, {"threshold": 0.0, "top_k": 100}),
    ("deform_default", "DeformableDetrImageProcessor", 6, (1, 300, 91), False, {"threshold": 0.5, "target_sizes": [[427, 640]]}),
    ("rtdetr_focal", "RTDetrImageProcessor", 7, (2, 40, 12), True, {"threshold": 0.4, "target_sizes": [[480, 640], [300, 500]]}),
    ("rtdetr_softmax", "RTDetrImageProcessor", 8, (3, 12, 6), False, {"threshold": 0.25, "use_focal_loss": False, "target_sizes": [[64, 48], [32, 32], [16, 100]]}),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("ignore")
    index = []
    for name, cls, seed, (n, q, c), ties, kwargs in CASES:
        logits, boxes = make_inputs(seed, n, q, c, ties)
        np.save(os.path.join(OUT, f"{name}_logits.npy"), logits)
        np.save(os.path.join(OUT, f"{name}_boxes.npy"), boxes)
        proc = getattr(transformers, cls)()
        call = dict(kwargs)
        if "target_sizes" in call:
            call["target_sizes"] = [tuple(t) for t in call["target_sizes"]]
        results = proc.post_process_object_detection(Outputs(torch.from_numpy(logits), torch.from_numpy(boxes)), **call)
        for i, r in enumerate(results):
            np.save(os.path.join(OUT, f"{name}_{i}_scores.npy"), r["scores"].numpy())
            np.save(os.path.join(OUT, f"{name}_{i}_labels.npy"), r["labels"].numpy())
            np.save(os.path.join(OUT, f"{name}_{i}_out_boxes.npy"), r["boxes"].numpy())
        index.append({"name": name, "class": cls, "batch": n, **kwargs})
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "cases": index}, f, indent=1)
        f.write("\n")
    print(f"{len(index)} cases -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
