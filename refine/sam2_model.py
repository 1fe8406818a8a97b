"""Build SAM2 with the `sam2` package and load its weights strictly.

Weights come either from the Hugging Face hub (``model_id``, cached by huggingface_hub) or from a local
file (``checkpoint`` + optional ``config``). The model is always built by ``sam2.build_sam.build_sam2``
from a config shipped inside the sam2 package, so the architecture matches what Meta releases.
"""

from __future__ import annotations

import logging
import pickle
import re
from importlib import resources
from pathlib import Path

import torch
from sam2.build_sam import build_sam2
from sam2.modeling.sam2_base import SAM2Base

from .errors import CheckpointMismatchError, CheckpointReadError, SAM2SettingsError, WeightsNotFoundError
from .settings import DEFAULT_SAM2_MODEL, SAM2_MODELS

logger = logging.getLogger(__name__)


# Only the model configs: sam2's training configs describe trainers, not models we can load for inference.
_CONFIG_FOLDERS = ("sam2", "sam2.1")

# A size tag is a whole word of the file name (``sam2.1_hiera_b+.pt``, ``my-sam2-large-ft.pt``), so the
# ``s`` inside ``sam2`` or ``hiera`` never counts.
_SIZE_TAG = re.compile(r"(?:^|[._-])(tiny|t|small|s|base_plus|base\+|b\+|large|l)(?=$|[._-])")
_SIZE_CODE = {
    "tiny": "t", "t": "t",
    "small": "s", "s": "s",
    "base_plus": "b+", "base+": "b+", "b+": "b+",
    "large": "l", "l": "l",
}  # fmt: skip
# Meta's SAM 2.0 files are called ``sam2_hiera_<size>.pt``; everything else is taken to be SAM 2.1.
_SAM2_0_NAME = re.compile(r"sam2[_-]hiera")


def available_sam2_configs() -> list[str]:
    """Config names shipped in the installed sam2 package, as ``build_sam2`` expects them."""
    root = resources.files("sam2") / "configs"
    return sorted(
        f"configs/{folder}/{entry.name}"
        for folder in _CONFIG_FOLDERS
        for entry in (root / folder).iterdir()
        if entry.name.endswith(".yaml")
    )


def resolve_sam2_config(name: str) -> str:
    """Map a config name to the form ``build_sam2`` wants.

    Accepts the full name (``configs/sam2.1/sam2.1_hiera_t.yaml``) or just its file name with or without
    ``.yaml`` (``sam2.1_hiera_t``). Raises SAM2SettingsError (setting ``config``) listing the valid
    names otherwise.
    """
    valid = available_sam2_configs()
    if name in valid:
        return name
    wanted = name if name.endswith(".yaml") else f"{name}.yaml"
    by_file_name = {config.rsplit("/", 1)[1]: config for config in valid}
    if wanted in by_file_name:
        return by_file_name[wanted]
    raise SAM2SettingsError("config", f"unknown SAM2 config {name!r}; valid names: {', '.join(valid)}")


def infer_sam2_config(checkpoint: str | Path) -> str:
    """Guess the config of a local checkpoint from its file name.

    The size comes from a tiny/small/base_plus/large (or t/s/b+/l) word in the name; without one the
    model is assumed to be Hiera-tiny, the default model. Names like Meta's ``sam2_hiera_*.pt`` select
    the SAM 2.0 configs, all others SAM 2.1. A wrong guess surfaces as CheckpointMismatchError on load.
    """
    stem = Path(checkpoint).name.lower().removesuffix(".pt").removesuffix(".pth")
    size_tag = _SIZE_TAG.search(stem)
    if size_tag is None:
        logger.info("no model size in checkpoint name %s; assuming Hiera-tiny", Path(checkpoint).name)
    size = _SIZE_CODE[size_tag.group(1)] if size_tag else "t"
    version = "sam2" if _SAM2_0_NAME.search(stem) else "sam2.1"
    return f"configs/{version}/{version}_hiera_{size}.yaml"


def load_sam2(
    model_id: str = DEFAULT_SAM2_MODEL,
    checkpoint: str | Path | None = None,
    config: str | None = None,
    device: str | torch.device = "cpu",
) -> SAM2Base:
    """Build a SAM2 model in eval mode on ``device`` with weights loaded strictly.

    Args:
        model_id: hub id from ``SAM2_MODELS``; used only when ``checkpoint`` is None. The file is
            downloaded by huggingface_hub on first use and read from its cache afterwards.
        checkpoint: a local ``.pt`` file laid out like Meta's (``{"model": state_dict}``).
        config: sam2 config name for ``checkpoint`` (see ``resolve_sam2_config``); None infers it from the
            checkpoint's file name (``infer_sam2_config``).
        device: where the model runs; sam2's own default would be cuda, so it is always passed on.

    Raises:
        WeightsNotFoundError: the checkpoint file is missing, or the hub file is neither cached nor
            downloadable.
        CheckpointReadError: the file is not a readable state dict laid out like Meta's.
        CheckpointMismatchError: the state dict has missing, unexpected or wrongly shaped keys.
        SAM2SettingsError: unknown model id (setting ``model``) or config, or ``config`` without
            ``checkpoint`` (setting ``config``).
    """
    if checkpoint is None:
        if config is not None:
            raise SAM2SettingsError("config", "a SAM2 config only applies together with a local checkpoint file")
        config_name, checkpoint_path = _download(model_id)
    else:
        checkpoint_path = Path(checkpoint)
        if not checkpoint_path.is_file():
            raise WeightsNotFoundError(str(checkpoint), f"SAM2 checkpoint {checkpoint_path} not found")
        config_name = resolve_sam2_config(config) if config is not None else infer_sam2_config(checkpoint_path)

    state_dict = _read_state_dict(checkpoint_path)
    model = build_sam2(config_name, ckpt_path=None, device=device)
    _load_strictly(model, state_dict, checkpoint_path, config_name)
    logger.info("loaded SAM2 %s from %s on %s", config_name, checkpoint_path, device)
    return model


def _download(model_id: str) -> tuple[str, Path]:
    if model_id not in SAM2_MODELS:
        raise SAM2SettingsError("model", f"unknown SAM2 model {model_id!r}; known models: {', '.join(SAM2_MODELS)}")
    # Imported here so that loading local weights never touches the hub client.
    from huggingface_hub import hf_hub_download

    release = SAM2_MODELS[model_id]
    try:
        path = hf_hub_download(repo_id=model_id, filename=release.filename)
    except OSError as error:  # huggingface_hub's offline, network and HTTP errors are all OSErrors
        raise WeightsNotFoundError(
            model_id,
            f"SAM2 weights {model_id}/{release.filename} are not in the Hugging Face cache and could not be "
            f"downloaded ({type(error).__name__}); allow network access on first use or use a local checkpoint",
        ) from error
    return release.config, Path(path)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's own message advises weights_only=False, i.e. running whatever code the file holds.
        problem = (
            "it stores Python objects rather than a state dict of tensors"
            if "Unsupported global" in str(error)
            else "the file is corrupt or not a PyTorch checkpoint"
        )
        raise CheckpointReadError(path, problem) from error
    except Exception as error:  # torch raises many types (EOF, zip, pickle) for an empty or truncated file
        raise CheckpointReadError(path, f"the file is truncated or corrupt ({type(error).__name__})") from error
    state_dict = saved.get("model") if isinstance(saved, dict) else None
    if not isinstance(state_dict, dict):
        raise CheckpointReadError(path, "it is not laid out like Meta's: expected a dict with a 'model' state dict")
    not_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointReadError(path, f"{len(not_tensors)} state dict entries are not tensors, e.g. {not_tensors[0]}")
    return state_dict


def _load_strictly(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], path: Path, config: str) -> None:
    # Shapes are compared first because load_state_dict raises a multi-page RuntimeError for them.
    expected = model.state_dict()
    mismatched = [
        key
        for key, tensor in state_dict.items()
        if key in expected and tuple(tensor.shape) != tuple(expected[key].shape)
    ]
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(path, config, missing, unexpected, mismatched)
    model.load_state_dict(state_dict, strict=True)
