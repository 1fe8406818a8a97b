import shutil

import pytest
import torch
from huggingface_hub.errors import GatedRepoError
from safetensors.torch import load_file, save_file

from sam3seg import SAM3ModelNotFoundError, SAM3Segmenter, SAM3Settings, load_sam3


def _one_line_error(model: str) -> SAM3ModelNotFoundError:
    with pytest.raises(SAM3ModelNotFoundError) as caught:
        load_sam3(model)
    error = caught.value
    assert error.exit_code == 1
    assert error.model == model
    message = str(error)
    assert message and "\n" not in message and "--" not in message
    return error


def _copy_without(tiny_sam3_dir, tmp_path, *names):
    folder = tmp_path / "sam3"
    shutil.copytree(tiny_sam3_dir, folder)
    for name in names:
        (folder / name).unlink()
    return str(folder)


def test_loads_model_and_processor_from_a_folder_in_fp32(tiny_sam3, tiny_sam3_dir):
    assert tiny_sam3.source == tiny_sam3_dir
    assert tiny_sam3.device == torch.device("cpu")
    assert {parameter.dtype for parameter in tiny_sam3.model.parameters()} == {torch.float32}
    assert not tiny_sam3.model.training
    assert type(tiny_sam3.processor).__name__ == "Sam3Processor"


def test_loads_and_runs_in_the_dtype_asked_for(tiny_sam3_dir, chelsea):
    loaded = load_sam3(tiny_sam3_dir, dtype=torch.bfloat16)
    assert {parameter.dtype for parameter in loaded.model.parameters()} == {torch.bfloat16}
    result = SAM3Segmenter(loaded, SAM3Settings(threshold=0.0)).segment(chelsea, ["cat"])
    assert len(result.phrases[0].instances) == 20 and result.phrases[0].mask.any()


def test_missing_folder(tmp_path):
    error = _one_line_error(str(tmp_path / "nowhere" / "sam3"))
    assert "does not exist" in str(error)


def test_folder_without_weights(tiny_sam3_dir, tmp_path):
    error = _one_line_error(_copy_without(tiny_sam3_dir, tmp_path, "model.safetensors"))
    assert error.reason == "incomplete" and "weights" in str(error)


def test_folder_without_processor_files(tiny_sam3_dir, tmp_path):
    error = _one_line_error(_copy_without(tiny_sam3_dir, tmp_path, "processor_config.json"))
    assert "processor" in str(error)


def test_folder_without_tokenizer(tiny_sam3_dir, tmp_path):
    error = _one_line_error(_copy_without(tiny_sam3_dir, tmp_path, "tokenizer.json"))
    assert "tokenizer" in str(error)


def test_folder_without_config(tiny_sam3_dir, tmp_path):
    error = _one_line_error(_copy_without(tiny_sam3_dir, tmp_path, "config.json"))
    assert "config.json" in str(error)


def test_folder_of_another_model(tiny_sam3_dir, tmp_path):
    folder = _copy_without(tiny_sam3_dir, tmp_path)
    config = (tmp_path / "sam3" / "config.json").read_text().replace('"model_type": "sam3"', '"model_type": "sam2"')
    (tmp_path / "sam3" / "config.json").write_text(config)
    assert "not SAM 3" in str(_one_line_error(folder))


def test_weights_that_do_not_fit_are_refused(tiny_sam3_dir, tmp_path):
    folder = _copy_without(tiny_sam3_dir, tmp_path)
    weights = load_file(tmp_path / "sam3" / "model.safetensors")
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, tmp_path / "sam3" / "model.safetensors", metadata={"format": "pt"})
    error = _one_line_error(folder)
    assert error.reason == "incomplete" and "do not fit" in str(error)


def test_offline_hub_id():
    error = _one_line_error("sclip-edit-tests/no-such-sam3")
    assert error.reason == "not_found" and "offline" in str(error)


def test_gated_hub_repository(monkeypatch):
    from transformers import Sam3Model

    def refuse(*args, **kwargs):
        gated = GatedRepoError.__new__(GatedRepoError)
        Exception.__init__(gated, "403 Client Error: access to this model is restricted")
        raise OSError("You are trying to access a gated repo.") from gated

    monkeypatch.setattr(Sam3Model, "from_pretrained", refuse)
    error = _one_line_error("facebook/sam3")
    assert error.reason == "gated"
    assert "licence" in str(error) and "hf auth login" in str(error) and "HF_TOKEN" in str(error)
