"""A randomly initialised SAM 2.1 Hiera-tiny for tests, and its checkpoint laid out like Meta's releases."""

from pathlib import Path

import pytest
import sam2.automatic_mask_generator
import torch
import torchvision
from sam2.build_sam import build_sam2
from sam2.modeling.sam2_base import SAM2Base

from refine import MaskGeneratorSettings

TINY_SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
# The real architecture and weights, built for 256 px inputs instead of 1024: SAM2's weights do not depend
# on the input size, and the image encoder costs about a quarter as much (mask logits are 64x64).
TINY_SAM2_IMAGE_SIZE = 256
# A random model predicts low IoU and stability, so thresholds of 0 let its masks through.
PERMISSIVE = MaskGeneratorSettings(points_per_side=3, pred_iou_thresh=0.0, stability_score_thresh=0.0)


def build_tiny_sam2(seed: int = 0, image_size: int = TINY_SAM2_IMAGE_SIZE) -> SAM2Base:
    """A random SAM 2.1 Hiera-tiny in eval mode on CPU, for ``image_size`` px inputs."""
    torch.manual_seed(seed)
    return build_sam2(
        TINY_SAM2_CONFIG, ckpt_path=None, device="cpu", hydra_overrides_extra=[f"++model.image_size={image_size}"]
    )


def save_tiny_sam2_checkpoint(model: SAM2Base, directory: str | Path) -> tuple[Path, str]:
    """Write ``sam2.1_hiera_tiny_random.pt`` into ``directory``; returns (checkpoint path, config name).

    The file holds ``{"model": state_dict}`` so it loads through ``load_sam2(checkpoint=..., config=...)``,
    the same path as real weights given with ``--sam2-checkpoint`` / ``--sam2-config`` (which build the
    model at its released 1024 px).
    """
    path = Path(directory) / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": model.state_dict()}, path)
    return path, TINY_SAM2_CONFIG


def keep_all_masks(patch: pytest.MonkeyPatch) -> None:
    """Lift the IoU threshold of sam2's box NMS while ``patch`` is active.

    A random model's masks all cover nearly the whole image, so the NMS would keep just one of them;
    without it, tests see many masks of the real model.
    """

    def no_suppression(boxes, scores, idxs, iou_threshold):
        return torchvision.ops.batched_nms(boxes, scores, idxs, iou_threshold=1.0)

    patch.setattr(sam2.automatic_mask_generator, "batched_nms", no_suppression)
