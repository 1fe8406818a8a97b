"""The page in a real browser: upload, prompt, run, click to correct, remove, download — compared with the CLI."""
import json
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

import main_sclip

TIMEOUT_MS = 90_000  # the first run loads CLIP, the first click SAM2 and its image embedding
# the counts table's last cell is the number of clicks on the (only) target
LAST_CLICK_COUNT_IS = "() => [...document.querySelectorAll('#counts td')].pop()?.innerText.trim() === '{}'"


@pytest.fixture
def web_page(chromium, server):
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    hosts = []
    page.on("request", lambda request: hosts.append(urlparse(request.url).hostname))
    page.goto(server.url)
    yield page
    context.close()
    # only localhost traffic: no fonts, analytics or scripts from elsewhere
    assert set(hosts) - {None} <= {"127.0.0.1"}, set(hosts)


def download(page, selector, folder, name):
    with page.expect_download() as info:
        page.click(selector)
    path = folder / name
    info.value.save_as(path)
    return path


def click_image_pixel(page, selector, x, y):
    """Click the pixel (x, y) of the picture shown in ``selector``, however large it is drawn."""
    # the element can be in the page before its picture is decoded (then its natural size is 0)
    page.wait_for_function("""selector => {
        const img = document.querySelector(selector);
        return img !== null && img.complete && img.naturalWidth > 0;
    }""", arg=selector)
    box = page.eval_on_selector(selector, """img => {
        const r = img.getBoundingClientRect();
        return {width: r.width, height: r.height, nw: img.naturalWidth, nh: img.naturalHeight};
    }""")
    scale = min(box["width"] / box["nw"], box["height"] / box["nh"])  # object-fit: contain
    left = (box["width"] - box["nw"] * scale) / 2
    top = (box["height"] - box["nh"] * scale) / 2
    page.click(selector, position={"x": left + (x + 0.5) * scale, "y": top + (y + 0.5) * scale})


def test_segment_correct_and_remove(web_page, server, photo_file, photo, tmp_path):
    page = web_page
    page.set_input_files("#image-input input[type=file]", str(photo_file))
    page.locator("#prompt textarea").fill("person")
    page.click("#run")
    page.wait_for_selector("#overlay img")
    page.wait_for_selector("#counts table")

    # the page's mask.png is the command line's, byte for byte
    mask_path = download(page, "#mask-download", tmp_path, "mask.png")
    cli_out = tmp_path / "cli"
    assert main_sclip.main(["--image", str(photo_file), "--prompt", "person", "--output", str(cli_out), "-q"]
                           + server.argv) in (0, 3)
    assert mask_path.read_bytes() == (cli_out / "mask.png").read_bytes()
    labels_path = download(page, "#labels-download", tmp_path, "labels.png")
    assert labels_path.read_bytes() == (cli_out / "labels.png").read_bytes()
    base = np.asarray(Image.open(mask_path)) == 255

    # a positive click outside the mask adds SAM2's object under it
    ys, xs = np.nonzero(~base)
    nearest = np.argmin((xs - photo.shape[1] / 2) ** 2 + (ys - photo.shape[0] / 2) ** 2)
    x, y = int(xs[nearest]), int(ys[nearest])
    click_image_pixel(page, "#overlay img", x, y)
    page.wait_for_function(LAST_CLICK_COUNT_IS.format(1))
    corrected_path = download(page, "#mask-download", tmp_path, "corrected.png")
    corrected = np.asarray(Image.open(corrected_path)) == 255
    assert corrected[base].all() and corrected.sum() > base.sum()
    record = json.loads(download(page, "#result-download", tmp_path, "result.json").read_text())
    point = record["targets"][0]["points"][0]
    assert (abs(point["x"] - x), abs(point["y"] - y), point["label"]) <= (1, 1, 1) and point["label"] == 1
    assert record["targets"][0]["pixels"] == int(corrected.sum())

    # clearing the clicks gives the segmentation's mask back
    page.click("#clear-points")
    page.wait_for_function(LAST_CLICK_COUNT_IS.format(0))
    assert download(page, "#mask-download", tmp_path, "cleared.png").read_bytes() == mask_path.read_bytes()

    # remove with the OpenCV remover: the after picture appears and downloads, untouched far from the mask
    page.locator("#edit-mode").get_by_label("remove").check()
    page.click("#edit-run")
    page.wait_for_selector("#edited img")
    page.wait_for_selector("#edit-note p")
    edited = np.asarray(Image.open(download(page, "#edited-download", tmp_path, "edited.png")))
    assert edited.shape == photo.shape
    assert not np.array_equal(edited, photo)
    import cv2

    reach = 5 + 8 + 2  # default dilation + feathering + rounding
    near = cv2.dilate(base.astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8)) > 0
    assert np.array_equal(edited[~near], photo[~near])


def test_errors_are_one_readable_line_and_examples_load(web_page):
    page = web_page
    page.locator("#prompt textarea").fill("person")
    page.click("#run")
    toast = page.locator(".toast-body").first
    toast.wait_for()
    text = toast.inner_text()
    assert "upload an image or pick an example first" in text and "Traceback" not in text

    page.locator("#examples button").first.click()
    page.wait_for_function("() => document.querySelector('#image-input img')?.naturalWidth === 512")
