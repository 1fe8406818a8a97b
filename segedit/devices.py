"""Device and precision choice, with one-line errors for what the machine cannot do."""
from __future__ import annotations

import torch

from .errors import UsageError

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was requested but CUDA is not available here; use --device cpu (or auto)")
    if name == "mps" and not mps_available():
        raise UsageError("--device mps was requested but Apple MPS is not available here; use --device cpu (or auto)")
    if name not in ("cuda", "mps", "cpu"):
        raise UsageError(f"unknown device '{name}'; choose auto, cuda, mps or cpu")
    return torch.device(name)


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """'auto' is fp16 on GPUs, as the official SCLIP code runs, and fp32 on the CPU."""
    if precision == "auto":
        return torch.float32 if device.type == "cpu" else torch.float16
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision '{precision}'; choose auto, fp32, fp16 or bf16")
    if precision == "fp16" and device.type == "cpu":
        raise UsageError("fp16 is not supported on the CPU; use --precision bf16 or fp32")
    return PRECISIONS[precision]


def precision_name(dtype: torch.dtype) -> str:
    return {value: key for key, value in PRECISIONS.items()}[dtype]
