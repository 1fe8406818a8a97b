"""The web page served in-process on a free localhost port, tiny random models loaded through the user flags."""
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Server:
    url: str
    app: object  # segedit.app.WebApp
    argv: list[str]  # its flags: the model flags, no SAM2 refinement at the start, the OpenCV remover


@pytest.fixture(scope="session")
def photo_file(tmp_path_factory, photo) -> Path:
    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    Image.fromarray(photo).save(path)
    return path


@pytest.fixture(scope="session")
def model_argv(tiny_clip_checkpoint, tiny_sam2_checkpoint, tmp_path_factory) -> list[str]:
    """The model flags shared by the page and the command line it is compared with."""
    checkpoint, config = tiny_sam2_checkpoint
    return ["--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(tmp_path_factory.mktemp("text-cache")),
            "--device", "cpu", "--sam2-checkpoint", str(checkpoint), "--sam2-config", config,
            # a 4x4 grid keeps SAM2 quick; random weights pass no quality threshold, so none is applied
            "--sam-points-per-side", "4", "--sam-pred-iou-thresh", "0", "--sam-stability-thresh", "0"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def server(model_argv, tmp_path_factory):
    pytest.importorskip("gradio")
    from segedit import app as webapp

    argv = model_argv + ["--no-sam-refinement", "--inpainter", "opencv"]
    app = webapp.WebApp(webapp.page_settings_from_args(webapp.build_parser().parse_args(argv)), root=tmp_path_factory.mktemp("sessions"))
    port = free_port()
    demo = webapp.launch(app, "127.0.0.1", port, block=False)
    yield Server(f"http://127.0.0.1:{port}/", app, argv)
    demo.close()
    app.close()


@pytest.fixture(scope="session")
def chromium():
    """The system Chromium driven by Playwright; skipped (with the reason) where either is missing."""
    if not CHROMIUM.is_file() and shutil.which("chromium") is None:
        pytest.skip("no Chromium at /usr/bin/chromium (CI installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (test extras)")
    playwright = sync_api.sync_playwright().start()
    executable = str(CHROMIUM) if CHROMIUM.is_file() else shutil.which("chromium")
    browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
    yield browser
    browser.close()
    playwright.stop()
