"""The named endpoints /segment and /edit through gradio_client, as a script would call the page."""
import json

import numpy as np
import pytest
from PIL import Image

import main_sclip

gradio_client = pytest.importorskip("gradio_client")

# /edit's inputs after mode, text and inpainter: steps, guidance, seed, strength, negative prompt, dilate, blur,
# scheduler
DEFAULT_EDIT_SETTINGS = (50, 7.5, "", 0, "", 5, 8, "default")


@pytest.fixture
def client(server):
    return gradio_client.Client(server.url, verbose=False)


def test_segment_with_sam2_and_two_prompts_then_remove(client, model_argv, photo_file, photo, tmp_path):
    overlay, label_map, counts, target, mask, labels, result = client.predict(
        gradio_client.handle_file(str(photo_file)), "person, sky", "", "none", "dense SCLIP", True,
        api_name="/segment")
    assert [choice[0] for choice in target["choices"]] == ["person", "sky"] and target["value"] == "person"
    assert "| person |" in counts and "| sky |" in counts
    assert np.asarray(Image.open(overlay)).shape == photo.shape
    record = json.loads(open(result).read())
    assert record["complete"] is True and record["settings"]["refine"]["enabled"] is True
    assert [t["prompt"] for t in record["targets"]] == ["person", "sky"]
    refinement = record["targets"][0]["refinement"]
    assert refinement["min_coverage"] == 0.6 and refinement["masks"] > 0

    # the command line with the same flags writes the same files
    cli_out = tmp_path / "cli"
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "person", "sky", "--use-sam-refinement",
                            "--output", str(cli_out), "-q"] + model_argv)
    assert code in (0, 3)
    assert open(mask, "rb").read() == (cli_out / "person" / "mask.png").read_bytes()
    assert open(labels, "rb").read() == (cli_out / "labels.png").read_bytes()
    cli_record = json.loads((cli_out / "result.json").read_text())
    assert record["targets"][0]["refinement"] == cli_record["targets"][0]["refinement"]
    assert record["class_pixels"] == cli_record["class_pixels"]

    (before, after), edited, result, note = client.predict("remove", "", "opencv", *DEFAULT_EDIT_SETTINGS,
                                                          api_name="/edit")
    assert np.array_equal(np.asarray(Image.open(before)), photo)
    assert np.array_equal(np.asarray(Image.open(after)), np.asarray(Image.open(edited)))
    edit = json.loads(open(result).read())["targets"][0]["edit"]
    assert edit["mode"] == "remove" and edit["model"] == "opencv-telea"
    assert "remove" in note and "person" in note


def test_bad_requests_fail_with_one_line(client, photo_file):
    with pytest.raises(gradio_client.exceptions.AppError, match="run a segmentation first"):
        client.predict("remove", "", "opencv", *DEFAULT_EDIT_SETTINGS, api_name="/edit")
    with pytest.raises(gradio_client.exceptions.AppError, match="the prompt is empty") as error:
        client.predict(gradio_client.handle_file(str(photo_file)), " , ", "", "none", "dense SCLIP", False,
                       api_name="/segment")
    assert "\n" not in str(error.value)
    client.predict(gradio_client.handle_file(str(photo_file)), "person", "", "none", "dense SCLIP", False,
                   api_name="/segment")
    with pytest.raises(gradio_client.exceptions.AppError, match="replace needs an edit text"):
        client.predict("replace", " ", "opencv", *DEFAULT_EDIT_SETTINGS, api_name="/edit")
    with pytest.raises(gradio_client.exceptions.AppError, match="the seed must be a whole number"):
        client.predict("remove", "", "opencv", 50, 7.5, "seven", *DEFAULT_EDIT_SETTINGS[3:], api_name="/edit")
    with pytest.raises(gradio_client.exceptions.AppError, match="the opencv inpainter cannot style"):
        client.predict("style", "oil painting", "opencv", *DEFAULT_EDIT_SETTINGS, api_name="/edit")


def test_proposals_approach(client, photo_file):
    *_, mask, labels, result = client.predict(
        gradio_client.handle_file(str(photo_file)), "person", "sky\ntree", "none", "SAM2 proposals", False,
        api_name="/segment")
    record = json.loads(open(result).read())
    assert record["approach"] == "proposals"
    assert [c["names"] for c in record["vocabulary"]] == [["sky"], ["tree"], ["person"]]
    target = record["targets"][0]
    assert target["proposals"] > 0 and target["instances"] <= 5
    person = np.asarray(Image.open(mask)) == 255
    assert target["pixels"] == int(person.sum())
    assert np.array_equal(np.asarray(Image.open(labels)) == 2, person)
