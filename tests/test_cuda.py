"""The command line end to end on CUDA with the tiny random models: SCLIP in fp16 and fp32, SAM2 refinement,
a diffusion edit. Each checks the files written and result.json's per-stage precision record.

Marked ``cuda`` (``pytest -m cuda``; benchmarks/gpu_check.sh runs them) and skipped without a CUDA device.
"""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import main_sclip

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]


@pytest.fixture
def base_args(tmp_path, photo, tiny_clip_checkpoint):
    image = tmp_path / "astronaut.jpg"
    Image.fromarray(photo).save(image, quality=95)
    return ["--image", str(image), "--prompt", "person", "--clip-weights", str(tiny_clip_checkpoint),
            "--cache-dir", str(tmp_path / "cache"), "--device", "cuda", "-q"]


def _result(out, photo) -> dict:
    """result.json of a complete run, after checking the label map and mask files against the photo."""
    result = json.loads((out / "result.json").read_text())
    assert result["complete"] is True and result["model"]["device"].startswith("cuda")
    labels = np.asarray(Image.open(out / "labels.png"))
    mask = np.asarray(Image.open(out / "mask.png")) == 255
    assert labels.shape == mask.shape == photo.shape[:2]
    assert int(mask.sum()) == result["targets"][0]["pixels"]
    assert not list(out.glob("*.part"))
    return result


@pytest.mark.parametrize("precision", ["fp16", "fp32"])
def test_sclip_on_cuda(base_args, tmp_path, photo, precision):
    out = tmp_path / precision
    code = main_sclip.main(base_args + ["--precision", precision, "--no-sam-refinement", "--save-probs",
                                        "--output", str(out)])
    assert code in (0, 3)  # 3: the random model found no person, result.json written all the same
    result = _result(out, photo)
    assert result["model"]["precision"] == {"clip": precision}
    probs = np.load(out / "probs.npy")
    assert probs.shape == (2, *photo.shape[:2]) and np.isfinite(probs.astype(np.float32)).all()


def test_sam2_refinement_on_cuda(base_args, tmp_path, photo, tiny_sam2_checkpoint):
    checkpoint, config = tiny_sam2_checkpoint
    out = tmp_path / "sam2"
    code = main_sclip.main(base_args + [
        "--sam2-checkpoint", str(checkpoint), "--sam2-config", config, "--refine-all-classes",
        "--sam-points-per-side", "4", "--sam-pred-iou-thresh", "0", "--sam-stability-thresh", "0",
        "--visualize", "--output", str(out),
    ])
    assert code in (0, 3)
    result = _result(out, photo)
    # auto: CLIP in fp16, SAM2 under bf16 autocast where the card has bf16, else fp32
    sam2 = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    assert result["model"]["precision"] == {"clip": "fp16", "sam2": sam2}
    assert result["timings"]["sam2"] > 0 and (out / "sclip_prediction.png").is_file()


def test_diffusion_edit_on_cuda(base_args, tmp_path, photo, tiny_inpaint_model):
    out = tmp_path / "edit"
    code = main_sclip.main(base_args + ["--no-sam-refinement", "--mode", "remove",
                                        "--inpaint-model", tiny_inpaint_model, "--steps", "2", "--seed", "3",
                                        "--output", str(out)])
    assert code == 0, "the tiny SCLIP found no person to edit (exit 3)" if code == 3 else code
    result = _result(out, photo)
    assert result["model"]["precision"] == {"clip": "fp16", "inpaint": "fp16"}
    edited = np.asarray(Image.open(out / "edited.png"))
    assert edited.shape == photo.shape
    record = result["targets"][0]["edit"]
    assert record["mode"] == "remove" and record["steps"] == 2 and record["seed"] == 3
