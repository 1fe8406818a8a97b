"""Device choice and the one precision policy that decides every stage's dtype."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UsageError
from .options import DEVICES, PRECISIONS

if TYPE_CHECKING:
    import torch

STAGES = ("clip", "sam2", "sam3", "inpaint")


def _dtypes():
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def mps_available() -> bool:
    import torch

    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str = "auto") -> "torch.device":
    """'auto' picks CUDA, then Apple's MPS, then the CPU."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if name not in DEVICES:
        raise UsageError(f"unknown device '{name}'; choose auto, cuda, mps or cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was requested but CUDA is not available here; use --device cpu (or auto)")
    if name == "mps" and not mps_available():
        raise UsageError("--device mps was requested but Apple MPS is not available here; use --device cpu (or auto)")
    return torch.device(name)


@dataclass(frozen=True)
class Precision:
    """The dtype of every stage, decided once from ``--precision`` and the device.

    ``auto`` follows how each model is run by its authors: CLIP in fp16 on GPUs (the official SCLIP
    code), SAM2 and SAM 3 in bf16 on CUDA where the card supports it (Meta's own demos), diffusion in
    fp16 on GPUs; everything in fp32 on the CPU. An explicit choice applies to every stage, so
    ``fp32`` really means fp32 everywhere.
    """

    clip: "torch.dtype"
    sam2: "torch.dtype"
    sam3: "torch.dtype"
    inpaint: "torch.dtype"

    @classmethod
    def resolve(cls, precision: str, device: "torch.device") -> "Precision":
        import torch

        dtypes = _dtypes()
        if precision not in PRECISIONS:
            raise UsageError(f"unknown precision '{precision}'; choose auto, fp32, fp16 or bf16")
        if precision != "auto":
            if precision == "fp16" and device.type == "cpu":
                raise UsageError("fp16 is not supported on the CPU; use --precision bf16 or fp32")
            return cls(*(dtypes[precision],) * len(STAGES))
        if device.type == "cpu":
            return cls(*(torch.float32,) * len(STAGES))
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        segment_anything = torch.bfloat16 if bf16 else torch.float32
        return cls(clip=torch.float16, sam2=segment_anything, sam3=segment_anything, inpaint=torch.float16)

    def names(self, stages=STAGES) -> dict[str, str]:
        """{"clip": "fp32", ...} for the stages named, as result.json records them."""
        return {stage: precision_name(getattr(self, stage)) for stage in stages}


def precision_name(dtype: "torch.dtype") -> str:
    """'fp32', 'fp16' or 'bf16'."""
    return {value: key for key, value in _dtypes().items()}[dtype]
