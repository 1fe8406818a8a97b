"""What each edit mode means: its prompt wording, its default strength, and which inputs it needs."""

from __future__ import annotations

from dataclasses import dataclass

MODES: tuple[str, ...] = ("remove", "replace", "style")

# Style keeps the region's layout, so the denoiser must not start from pure noise; remove and replace repaint fully.
DEFAULT_STRENGTH: dict[str, float] = {"remove": 1.0, "replace": 1.0, "style": 0.6}

# The wording added to every prompt, public so a command line's help can quote it. Remove names no new content:
# naming anything would paint it. The removed target joins the negative prompt instead.
REMOVE_PROMPT = "empty background, seamless continuation of the surrounding scene, matching light and texture"
PROMPT_SUFFIXES: dict[str, str] = {
    "replace": "photorealistic, highly detailed, lit like the surrounding scene",
    "style": "same shape and layout as before, highly detailed",
}
DEFAULT_NEGATIVE_PROMPT = "blurry, distorted, deformed, artifacts, seams, text, watermark, low quality"


@dataclass(frozen=True)
class Prompts:
    prompt: str
    negative_prompt: str


def check_mode(mode: str, supported: tuple[str, ...], method: str) -> None:
    """Raise ValueError unless ``mode`` is a known mode that ``method`` (its name, for the message) can do."""
    if mode not in MODES:
        raise ValueError(f"unknown edit mode {mode!r}; expected one of: {', '.join(MODES)}")
    if mode not in supported:
        raise ValueError(
            f"{method} cannot {mode} (it supports only: {', '.join(supported)}); use the diffusion inpainter for {mode}"
        )


def build_prompts(mode: str, target: str, edit: str | None, extra_negative: str | None = None) -> Prompts:
    """Word the positive and negative prompt for one edit of the region showing ``target``.

    ``edit`` describes the new content (required for replace and style); ``extra_negative`` is the user's own
    negative text, appended to the mode's.
    """
    check_mode(mode, MODES, "the diffusion inpainter")
    target = target.strip()
    edit = (edit or "").strip()
    if mode in ("replace", "style") and not edit:
        raise ValueError(f"mode {mode!r} needs an edit description (what to paint into the region)")
    if mode == "remove":
        if not target:
            raise ValueError("mode 'remove' needs the target's name, so the model can be told not to paint it back")
        # Naming the removed class in the positive prompt would bring it back; it belongs in the negative only.
        prompt = REMOVE_PROMPT
        negative = f"{target}, new object, {DEFAULT_NEGATIVE_PROMPT}"
    elif mode == "replace":
        prompt = f"{edit}, {PROMPT_SUFFIXES['replace']}"
        negative = DEFAULT_NEGATIVE_PROMPT
    else:
        subject = f"{target}, " if target else ""
        prompt = f"{subject}{edit}, {PROMPT_SUFFIXES['style']}"
        negative = DEFAULT_NEGATIVE_PROMPT
    if extra_negative and extra_negative.strip():
        negative = f"{negative}, {extra_negative.strip()}"
    return Prompts(prompt=prompt, negative_prompt=negative)
