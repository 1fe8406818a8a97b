"""The page's SAM 3 approach without a browser: the tiny random SAM 3 through --sam3-model, CLIP never loaded."""
import json

import numpy as np

from segedit import app as webapp


def no_progress(*args, **kwargs):
    pass


def test_sam3_approach_writes_the_command_lines_files(model_argv, tiny_sam3_dir, photo_file, photo, tmp_path):
    args = webapp.build_parser().parse_args(model_argv + ["--sam3-model", tiny_sam3_dir, "--sam3-threshold", "0",
                                                          "--inpainter", "opencv"])
    app = webapp.WebApp(webapp.page_settings_from_args(args), root=tmp_path / "sessions")
    try:
        session = app.segment(str(photo_file), "person", "sky\nperson, man", webapp.NO_PRESET, "SAM 3", True, None,
                              no_progress)
        assert app.models.loaded == {"sam3"}  # neither CLIP nor SAM2: the approach needs neither
        record = json.loads((session.folder / "result.json").read_text())
        assert record["approach"] == "sam3" and record["model"]["sam3"] == tiny_sam3_dir
        assert record["settings"]["sam3"]["threshold"] == 0
        assert session.labels.shape == photo.shape[:2] and session.class_names == ["sky", "person"]
        target = session.targets["person"]
        assert target.info.instances > 0 and np.array_equal(target.mask, target.current)
        for name in ("labels.png", "mask.png", "instances.json"):
            assert (session.folder / name).is_file(), name
    finally:
        app.close()
