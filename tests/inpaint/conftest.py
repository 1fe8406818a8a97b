"""Fixtures for the editing stage: a tiny random inpainting pipeline saved to disk once per session."""

import pytest
import torch

from inpaint import DiffusionInpainter


@pytest.fixture(scope="session")
def tiny_inpainter(tiny_inpaint_model) -> DiffusionInpainter:
    return DiffusionInpainter(model=tiny_inpaint_model, device="cpu", dtype=torch.float32, progress=False)
