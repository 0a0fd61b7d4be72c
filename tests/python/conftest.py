"""Shared fixtures of the Python tests (pytest, run by ./build.sh test against the installed
package; PYTHONPATH=python works too once the extension is built)."""
import logging
import os
import warnings

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")
SAMPLES = os.path.join(ROOT, "pipelines", "samples")
MODELS = os.path.join(ROOT, "pipelines", "models")


def model_dir(model_id):
    """The bundled config folder of a model id ("openai/clip-vit-base-patch32")."""
    return os.path.join(MODELS, model_id.replace("/", "__"))


def sample_images():
    return [os.path.join(SAMPLES, f) for f in sorted(os.listdir(SAMPLES))]


@pytest.fixture(autouse=True)
def _quiet_transformers():
    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.getLogger("pixelflow").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
