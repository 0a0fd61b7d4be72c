# Prints the config_roundtrip.jsonl records of the bundled DETR-family configs, as transformers 5.0
# (slow processors) loads and save_pretrained writes them. Run from the repository root with the
# reference venv: build/venv/bin/python tests/tools/make_detr_roundtrip.py >> tests/data/config/config_roundtrip.jsonl
import json, logging, os, tempfile, warnings
import transformers
from transformers.models.detr.image_processing_detr import DetrImageProcessor
from transformers.models.conditional_detr.image_processing_conditional_detr import ConditionalDetrImageProcessor
from transformers.models.deformable_detr.image_processing_deformable_detr import DeformableDetrImageProcessor
from transformers.models.yolos.image_processing_yolos import YolosImageProcessor
from transformers.models.rt_detr.image_processing_rt_detr import RTDetrImageProcessor
M = "pipelines/models"
rows = [("facebook__detr-resnet-50", DetrImageProcessor), ("microsoft__conditional-detr-resnet-50", ConditionalDetrImageProcessor),
        ("SenseTime__deformable-detr", DeformableDetrImageProcessor), ("hustvl__yolos-small", YolosImageProcessor),
        ("PekingU__rtdetr_r50vd", RTDetrImageProcessor)]
class H(logging.Handler):
    def __init__(s): super().__init__(); s.msgs=[]
    def emit(s, r):
        if r.levelno >= logging.WARNING: s.msgs.append(r.getMessage())
for folder, cls in rows:
    h = H(); lg = logging.getLogger("transformers"); lg.addHandler(h)
    p = cls.from_pretrained(os.path.join(M, folder))
    lg.removeHandler(h)
    with tempfile.TemporaryDirectory() as d:
        p.save_pretrained(d)
        text = open(os.path.join(d, "preprocessor_config.json")).read()
        q = cls.from_pretrained(d)
    print(json.dumps({"folder": folder, "processor_class": cls.__name__, "saved_preprocessor_config_json": text,
                      "reload_equal": p.to_dict() == q.to_dict(), "warnings": h.msgs}))
