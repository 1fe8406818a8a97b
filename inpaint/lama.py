"""Object removal with LaMa (big-lama, Apache-2.0): a feed-forward inpainting network that fills large holes with
the surrounding texture and structure instead of painting new objects into them.

The network is run from a published TorchScript export (no architecture code here): ``model(image, mask)`` with
``image`` float32 (1, 3, H, W) RGB in [0, 1] and ``mask`` float32 (1, 1, H, W), 1 where to fill; H and W multiples
of 8 (the encoder downsamples three times); it returns the filled image, float (1, 3, H, W) in [0, 1]. This is the
calling convention of the TorchScript big-lama that lama-cleaner / IOPaint publish and that hub mirrors re-host.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from inpaint.errors import UnsupportedModelError, WeightsNotFoundError
from inpaint.families import first_line
from inpaint.masks import check_image_and_mask, crop_around, feather_window, paste_back
from inpaint.modes import check_mode
from inpaint.settings import (
    DEFAULT_LAMA_WEIGHTS,
    LAMA_FILE_NAMES,
    EditResult,
    InpaintSettings,
)

logger = logging.getLogger(__name__)

# LaMa sees a window around the region: half the region's longer side of context on each side, and at least
# MIN_SIDE pixels, so a small object in a big photo is filled from a meaningful neighbourhood.
CONTEXT = 0.5
MIN_SIDE = 512
# Windows longer than this are shrunk before the network runs (and the fill enlarged back): big-lama was trained
# at 256 px and generalises to about 2k, but its cost grows with the pixel count while its output gains little.
MAX_SIDE = 1024
PAD_MULTIPLE = 8
_WEIGHT_SUFFIXES = (".pt", ".pth", ".jit", ".torchscript")
SETTING = "lama_weights"  # the field of InpainterOptions that names the weights, for errors a CLI maps to its flag


class LamaRemover:
    """Removes the masked region with LaMa. Deterministic; no prompt, seed or steps.

    ``weights`` is a TorchScript file, a folder holding one (``big-lama.pt`` or ``lama.pt``, else its only ``.pt``
    file), or a hub repository holding one, fetched once into the standard Hugging Face cache; None means
    ``DEFAULT_LAMA_WEIGHTS``. LaMa runs in float32 whatever precision the rest of a run uses: its Fourier
    convolutions are not reliable in half precision. ``max_side`` bounds the window the network sees.
    """

    supported_modes: ClassVar[tuple[str, ...]] = ("remove",)
    kind: ClassVar[str] = "lama"

    def __init__(
        self,
        weights: str | None = None,
        device: str | torch.device = "cpu",
        max_side: int = MAX_SIDE,
        progress: bool = True,
    ) -> None:
        if max_side < MIN_SIDE:
            raise ValueError(f"max_side must be at least {MIN_SIDE} pixels, got {max_side}")
        self.weights = str(weights or DEFAULT_LAMA_WEIGHTS)
        self.device = torch.device(device)
        self.max_side = max_side
        self.path = resolve_lama_weights(self.weights, progress)
        self.network = load_lama(self.path, self.weights, self.device)

    def describe(self) -> dict[str, Any]:
        return {"inpainter": self.kind, "inpaint_model": self.weights, "inpaint_family": None,
                "inpaint_pipeline": None, "inpaint_dtype": "float32"}

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        mode: str,
        target: str,
        edit: str | None = None,
        settings: InpaintSettings | None = None,
    ) -> EditResult:
        """Fill the ``mask`` region of ``image`` (uint8 (H, W, 3)); ``mode`` must be remove.

        Only ``mask_dilate`` and ``mask_blur`` of ``settings`` apply. The network sees a window around the region
        (shrunk to ``max_side`` if larger), so a 12-MP photo costs what its region costs; pixels outside the
        feathered mask are returned unchanged.
        """
        check_mode(mode, self.supported_modes, "the LaMa remover")
        check_image_and_mask(image, mask)
        settings = settings or InpaintSettings()
        # Only a window around the region is feathered, filled and blended: the rest of a 12-MP photo is copied.
        alpha, (wx0, wy0, wx1, wy1) = feather_window(mask, settings.mask_dilate, settings.mask_blur)
        # Fill the whole feather band, as the other inpainters do, so the blend fades fill into original.
        region = np.zeros(mask.shape, bool)
        region[wy0:wy1, wx0:wx1] = alpha > 0
        x0, y0, x1, y1 = crop_around(region, MIN_SIDE, CONTEXT)
        start = time.perf_counter()
        filled = self.fill(image[y0:y1, x0:x1], region[y0:y1, x0:x1])
        # The band lies inside both the network's crop and the feather window; copy the overlap into the window.
        generated = image[wy0:wy1, wx0:wx1].copy()
        ox0, oy0, ox1, oy1 = max(x0, wx0), max(y0, wy0), min(x1, wx1), min(y1, wy1)
        generated[oy0 - wy0 : oy1 - wy0, ox0 - wx0 : ox1 - wx0] = filled[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0]
        edited = image.copy()
        edited[wy0:wy1, wx0:wx1] = paste_back(image[wy0:wy1, wx0:wx1], generated, alpha)
        return EditResult(
            image=edited,
            mode=mode,
            model=self.weights,
            crop_box=(x0, y0, x1, y1),
            seconds=time.perf_counter() - start,
            dtype="float32",
            inpainter=self.kind,
        )

    def fill(self, crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Run the network on one window: uint8 (h, w, 3) and bool (h, w) in, uint8 (h, w, 3) out."""
        height, width = hole.shape
        scale = min(1.0, self.max_side / max(height, width))
        image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float().div_(255)
        holes = torch.from_numpy(hole)[None, None].float()
        if scale < 1.0:
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            image = F.interpolate(image, size=size, mode="area")
            # any hole pixel in a cell makes the cell a hole: nothing of the object may leak into the fill's input
            holes = (F.adaptive_max_pool2d(holes, size) > 0).float()
        small_height, small_width = image.shape[-2:]
        pad_bottom, pad_right = -small_height % PAD_MULTIPLE, -small_width % PAD_MULTIPLE
        # Mirror padding continues the picture; zeros would read as a dark border the fill then blends towards.
        # (Mirroring needs more pixels than it adds: images of a few pixels repeat their edge instead.)
        mirror = pad_bottom < small_height and pad_right < small_width
        image = F.pad(image, (0, pad_right, 0, pad_bottom), mode="reflect" if mirror else "replicate")
        holes = F.pad(holes, (0, pad_right, 0, pad_bottom), mode="constant", value=0.0)
        with torch.inference_mode():
            output = self.network(image.to(self.device), holes.to(self.device))
        if not isinstance(output, torch.Tensor) or output.shape != image.shape:
            got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise UnsupportedModelError(
                self.weights, f"LaMa weights {self.weights} returned {got} for an input of {tuple(image.shape)}; "
                "expected an image of the same shape (a TorchScript big-lama taking image and mask)", setting=SETTING,
            )
        output = output[..., :small_height, :small_width].float().cpu()
        if scale < 1.0:
            output = F.interpolate(output, size=(height, width), mode="bicubic", align_corners=False)
        return output[0].permute(1, 2, 0).mul(255).round_().clamp_(0, 255).to(torch.uint8).numpy()


def resolve_lama_weights(weights: str, progress: bool = True) -> Path:
    """The local TorchScript file ``weights`` names: a file, a folder holding one, or a hub repository holding one.

    Every failure is a one-line WeightsNotFoundError whose ``setting`` is ``lama_weights``.
    """
    path = Path(weights).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        return _file_in_folder(weights, path)
    if path.suffix in _WEIGHT_SUFFIXES or weights.startswith((".", "/", "~")) or weights.count("/") != 1:
        raise WeightsNotFoundError(
            weights, f"LaMa weights {path} do not exist; give a TorchScript big-lama file, a folder holding one, "
            "or a hub repository id", setting=SETTING,
        )
    return _download(weights, progress)


def _file_in_folder(weights: str, folder: Path) -> Path:
    for name in LAMA_FILE_NAMES:
        if (folder / name).is_file():
            return folder / name
    candidates = sorted(entry for entry in folder.iterdir() if entry.suffix in _WEIGHT_SUFFIXES and entry.is_file())
    if len(candidates) == 1:
        return candidates[0]
    found = f"{len(candidates)} candidate files" if candidates else "no TorchScript file"
    raise WeightsNotFoundError(
        weights, f"LaMa weights folder {folder} holds {found}; expected {' or '.join(LAMA_FILE_NAMES)}",
        setting=SETTING,
    )


def _download(repository: str, progress: bool) -> Path:
    """Fetch the repository's TorchScript file into the standard Hugging Face cache (or find it there offline)."""
    import huggingface_hub.utils
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    problem: BaseException | None = None
    bars_were_off = huggingface_hub.utils.are_progress_bars_disabled()
    if not progress:
        huggingface_hub.utils.disable_progress_bars()
    try:
        for name in LAMA_FILE_NAMES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the hub's deprecation chatter is nothing a user can act on
                    return Path(hf_hub_download(repository, name))
            except EntryNotFoundError as error:  # offline cache misses are EntryNotFoundErrors too
                problem = error
            except (OSError, ValueError) as error:
                problem = error
                break
    finally:
        if not progress and not bars_were_off:
            huggingface_hub.utils.enable_progress_bars()
    raise WeightsNotFoundError(
        repository, f"LaMa weights {repository!r} are neither a local file nor fetchable from the Hugging Face hub "
        f"({first_line(problem)}); give a local TorchScript big-lama file or allow network access on first use",
        setting=SETTING,
    )


def load_lama(path: Path, weights: str, device: torch.device) -> torch.jit.ScriptModule:
    """Load a TorchScript LaMa onto ``device``; a file that is not TorchScript is a one-line UnsupportedModelError."""
    try:
        with warnings.catch_warnings():
            # torch 2.14 marks TorchScript deprecated in favour of torch.export; the published big-lama is TorchScript
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=FutureWarning)
            network = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError, OSError) as error:
        raise UnsupportedModelError(
            weights, f"{path} is not a TorchScript model ({first_line(error)}); LaMa needs a TorchScript export "
            "such as big-lama.pt, not a training checkpoint", setting=SETTING,
        ) from error
    network.eval()
    logger.debug("LaMa loaded from %s", path)
    return network
