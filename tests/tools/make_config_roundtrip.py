# Prints the config_roundtrip.jsonl records of bundled configs, as transformers 5.0 (slow
# processors) loads them and save_pretrained writes them: the class is the config's
# image_processor_type. Run from the repository root with the reference venv, naming folders of
# pipelines/models:
#   build/venv/bin/python tests/tools/make_config_roundtrip.py FOLDER... >> tests/data/config/config_roundtrip.jsonl
# (the DETR-family rows came from: facebook__detr-resnet-50 microsoft__conditional-detr-resnet-50
# SenseTime__deformable-detr hustvl__yolos-small PekingU__rtdetr_r50vd).
import json
import logging
import os
import sys
import tempfile

import transformers

M = "pipelines/models"


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.msgs = []

    def emit(self, record):
        if record.levelno >= logging.WARNING:
            self.msgs.append(record.getMessage())


for folder in sys.argv[1:]:
    with open(os.path.join(M, folder, "preprocessor_config.json"), encoding="utf-8") as f:
        cls = getattr(transformers, json.load(f)["image_processor_type"])
    h = Collect()
    lg = logging.getLogger("transformers")
    lg.addHandler(h)
    p = cls.from_pretrained(os.path.join(M, folder))
    lg.removeHandler(h)
    with tempfile.TemporaryDirectory() as d:
        p.save_pretrained(d)
        with open(os.path.join(d, "preprocessor_config.json"), encoding="utf-8") as f:
            text = f.read()
        q = cls.from_pretrained(d)
    print(json.dumps({"folder": folder, "processor_class": cls.__name__, "saved_preprocessor_config_json": text,
                      "reload_equal": p.to_dict() == q.to_dict(), "warnings": h.msgs}))
