#!/usr/bin/env python
"""Screenshot of the web page after a segmentation and an edit (docs/app.png).

    python scripts/app_screenshot.py --output docs/app.png -- --model ViT-B-16 --inpainter opencv

Flags after ``--`` are sclip-app's (models, device, defaults). The page is served in-process on a free
localhost port and photographed with Playwright driving the system Chromium.
"""
import argparse
import io
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "app.png")
    parser.add_argument("--image", type=Path, default=ROOT / "examples" / "astronaut.jpg")
    parser.add_argument("--prompt", default="person")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--width", type=int, default=1400)
    own, app_argv = parser.parse_known_args(argv)
    app_argv = [flag for flag in app_argv if flag != "--"]

    from PIL import Image
    from playwright.sync_api import sync_playwright

    from segedit import app as webapp

    app = webapp.WebApp(webapp.page_settings_from_args(webapp.build_parser().parse_args(app_argv)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = webapp.launch(app, "127.0.0.1", port, block=False)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=own.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": own.width, "height": 900})
            page.set_default_timeout(600_000)  # real models on a CPU take minutes
            page.goto(f"http://127.0.0.1:{port}/")
            page.set_input_files("#image-input input[type=file]", str(own.image))
            page.locator("#prompt textarea").fill(own.prompt)
            page.click("#run")
            page.wait_for_selector("#counts table")
            page.click("#edit-run")
            page.wait_for_selector("#edit-note p")
            page.wait_for_timeout(500)  # let the slider's pictures finish drawing
            own.output.parent.mkdir(parents=True, exist_ok=True)
            shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
            browser.close()
        # a 256-colour palette keeps the committed picture about a third of the size, with no visible loss
        shot.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            own.output, optimize=True)
    finally:
        demo.close()
        app.close()
    print(own.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
