"""Model loading for every front end: one call loads what a run needs, before its first image.

The hub is probed once (quickly) before anything loads, so that offline a missing model fails at once
instead of after a minute of retries, and a missing model's error becomes one line that says where the
hub cache is and which flag gives local weights.
"""
from __future__ import annotations

from collections.abc import Sequence

from .errors import EXIT_FAILED, ToolError, UsageError, exit_code_of, first_line
from .options import ModelOptions, RunOptions

# What provides each model's weights locally, added to the one-line weights errors.
WEIGHTS_FLAGS = {
    "sclip": "--clip-weights FILE (an OpenAI-format checkpoint)",
    "refine": "--sam2-checkpoint FILE --sam2-config NAME",
    "inpaint": "--inpaint-model DIR (a diffusers folder)",
    "sam3seg": "--sam3-model DIR (a transformers save_pretrained folder)",
}
# The parts of the per-image job; the Ray engine runs them in separate workers.
PARTS = ("segment", "edit")


class WeightsError(ToolError):
    """A stage's weights error with the advice: where the hub cache is and which flag loads local weights."""

    exit_code = EXIT_FAILED


def models_of(run: RunOptions, parts: Sequence[str] = PARTS) -> tuple[str, ...]:
    """The models (``Segmenter.load``'s names) the ``parts`` of ``run`` use."""
    models: list[str] = []
    if "segment" in parts:
        models.append("sam3" if run.approach == "sam3" else "clip")
        if run.needs_sam2:
            models.append("sam2")
    if "edit" in parts and run.mode != "segment":
        models.append("inpaint")
    return tuple(models)


def check_device(models: ModelOptions) -> None:
    """The device exists here and takes the precision asked for; no model is loaded."""
    from .devices import Precision, resolve_device

    Precision.resolve(models.precision, resolve_device(models.device))


def load_segmenter(models: ModelOptions, run: RunOptions, parts: Sequence[str] = PARTS, progress: bool = False):
    """A ``Segmenter`` with every model the ``parts`` of ``run`` need loaded."""
    from .api import Segmenter

    segmenter = Segmenter.from_options(models, progress)
    low_vram = run.inpaint.low_vram if run.inpaint is not None else False
    load(segmenter, models_of(run, parts), models.inpainter, models.inpaint_model, low_vram)
    if "inpaint" in models_of(run, parts):
        inpainter = segmenter.inpainter(models.inpainter, models.inpaint_model, low_vram)
        if run.mode not in inpainter.supported_modes:
            raise UsageError(f"--inpainter {models.inpainter} cannot {run.mode}")
    return segmenter


def load(segmenter, names: Sequence[str], inpainter: str = "diffusion", inpaint_model: str | None = None,
         low_vram: bool = False):
    """``segmenter.load(names, ...)`` behind one hub probe, with the one-line weights error."""
    from .hub import prepare_hub, quiet_hub

    if set(names) <= segmenter.loaded:
        return segmenter
    hub = prepare_hub()
    try:
        with quiet_hub():
            return segmenter.load(names, inpainter, inpaint_model, low_vram)
    except Exception as exc:
        if exit_code_of(exc) == EXIT_FAILED and getattr(exc, "model", None) is not None:
            raise weights_error(exc, hub) from exc
        raise


def weights_error(cause: BaseException, hub) -> WeightsError:
    from .hub import weights_hint

    package = type(cause).__module__.split(".")[0]
    flag = WEIGHTS_FLAGS.get(package, "a local weights flag")
    # built from its message alone, so it pickles back whole from a Ray worker
    return WeightsError(f"{first_line(cause)}; {weights_hint(hub, flag)}")
