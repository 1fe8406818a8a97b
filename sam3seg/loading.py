"""Loading SAM 3 (model and processor) from the Hugging Face hub or a local ``save_pretrained`` folder."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import SAM3ModelNotFoundError
from .settings import DEFAULT_SAM3_MODEL

logger = logging.getLogger(__name__)

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")
# A fast tokenizer needs tokenizer.json; a slow CLIP tokenizer needs both BPE files.
_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
# sam3_video checkpoints hold the image detector as their detector_config, which Sam3Model loads.
_MODEL_TYPES = ("sam3", "sam3_video")


@dataclass(frozen=True)
class LoadedSAM3:
    """A SAM 3 model in eval mode on its device, its processor, and what it was loaded from."""

    model: torch.nn.Module
    processor: object
    source: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype


def load_sam3(
    model: str = DEFAULT_SAM3_MODEL,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> LoadedSAM3:
    """Load ``Sam3Model`` and ``Sam3Processor`` from a hub id or a ``save_pretrained`` folder holding both.

    The caller picks device and dtype (one precision policy for the whole run). Raises
    :class:`SAM3ModelNotFoundError` with a one-line message when the model cannot be had.
    """
    from transformers import Sam3Model, Sam3Processor

    path = Path(model).expanduser()
    local = path.exists()
    if local:
        _check_folder(model, path)
    elif not _HUB_ID.fullmatch(model):
        raise SAM3ModelNotFoundError(model, f"SAM 3 model folder {path} does not exist")
    source = str(path) if local else model
    try:
        network, info = Sam3Model.from_pretrained(source, dtype=dtype, output_loading_info=True)
        processor = Sam3Processor.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _load_error(model, local, error) from error
    # transformers fills missing weights with random values and only warns; a partly random model is no model.
    missing = list(info.get("missing_keys", ())) + [str(key) for key in info.get("mismatched_keys", ())]
    if missing:
        raise SAM3ModelNotFoundError(
            model,
            f"SAM 3 weights in {source} do not fit the model: {len(missing)} missing or mis-shaped "
            f"(first: {missing[0]})",
            reason="incomplete",
        )
    network.to(device).eval()
    logger.debug("SAM 3 loaded from %s on %s as %s", source, device, dtype)
    return LoadedSAM3(model=network, processor=processor, source=source)


def _check_folder(model: str, path: Path) -> None:
    """Name the first thing a local folder lacks, before transformers fails on it with a long message."""
    if not path.is_dir():
        raise SAM3ModelNotFoundError(model, f"SAM 3 model {path} is a file, not a save_pretrained folder")

    def incomplete(what: str) -> SAM3ModelNotFoundError:
        return SAM3ModelNotFoundError(model, f"SAM 3 model folder {path} has {what}", reason="incomplete")

    config_file = path / "config.json"
    if not config_file.is_file():
        raise incomplete("no config.json (save the model with save_pretrained)")
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as error:
        raise incomplete(f"an unreadable config.json ({type(error).__name__})") from error
    if model_type not in _MODEL_TYPES:
        raise incomplete(f"a {model_type!r} model, not SAM 3")
    if not any((path / name).is_file() for name in _WEIGHT_FILES):
        raise incomplete(f"no model weights ({' or '.join(_WEIGHT_FILES[::2])})")
    if not any((path / name).is_file() for name in _PROCESSOR_FILES):
        raise incomplete("no processor files (save the Sam3Processor with save_pretrained into the same folder)")
    if not any(all((path / name).is_file() for name in group) for group in _TOKENIZER_FILES):
        raise incomplete("no tokenizer files (tokenizer.json, or vocab.json and merges.txt)")


def _load_error(model: str, local: bool, error: BaseException) -> SAM3ModelNotFoundError:
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    causes = _chain(error)
    reason = _first_line(error)
    if local:
        return SAM3ModelNotFoundError(model, f"SAM 3 model folder {model} could not be loaded ({reason})", "incomplete")
    if any(isinstance(cause, GatedRepoError) for cause in causes) or "gated repo" in str(error).lower():
        return SAM3ModelNotFoundError(
            model,
            f"SAM 3 model {model!r} is gated: accept its licence on the model page and log in with "
            "`hf auth login` (or set HF_TOKEN)",
            reason="gated",
        )
    if any(isinstance(cause, LocalEntryNotFoundError) for cause in causes):
        problem = "is no local folder, not in the Hugging Face cache, and the hub cannot be reached (offline)"
    elif any(isinstance(cause, RepositoryNotFoundError) for cause in causes):
        problem = "is no local folder and was not found on the Hugging Face hub"
    else:
        problem = f"could not be loaded from the Hugging Face hub ({reason})"
    return SAM3ModelNotFoundError(model, f"SAM 3 model {model!r} {problem}")


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
