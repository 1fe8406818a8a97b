"""The page's actions without a browser: a diffusion replace through the tiny random inpainting pipeline."""
import json

import numpy as np
import pytest
from PIL import Image

import inpaint
from segedit import app as webapp


def no_progress(*args, **kwargs):
    pass


@pytest.fixture
def app(model_argv, tiny_inpaint_model, tmp_path):
    args = webapp.build_parser().parse_args(model_argv + ["--no-sam-refinement", "--inpaint-model",
                                                          tiny_inpaint_model])
    app = webapp.WebApp(webapp.page_settings_from_args(args), root=tmp_path / "sessions")
    yield app
    app.close()


def test_replace_with_diffusion_records_the_seed(app, photo_file, photo):
    assert app.settings.models.inpainter == "diffusion"
    session = app.segment(str(photo_file), "person", "", webapp.NO_PRESET, "dense SCLIP", False, None, no_progress)
    settings = inpaint.InpaintSettings(steps=2, seed=5)
    session, edited, path = app.edit(session, "replace", "a red racing car", "diffusion", settings, no_progress)
    assert edited.shape == photo.shape and np.array_equal(np.asarray(Image.open(path)), edited)
    record = json.loads((session.folder / "result.json").read_text())
    edit = record["targets"][0]["edit"]
    assert (edit["mode"], edit["seed"], edit["steps"]) == ("replace", 5, 2) and "red racing car" in edit["prompt"]
    assert record["mode"] == "replace" and record["settings"]["inpaint"]["seed"] == 5
    # a second visitor's models are the first one's: nothing loads twice
    assert app.models.segmenter() is app.models.segmenter()
