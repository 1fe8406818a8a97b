"""Fixtures for the editing stage: a tiny random inpainting pipeline saved to disk once per session."""

import pytest
from tiny_inpaint import build_tiny_inpaint_pipeline

from inpaint import DiffusionInpainter


@pytest.fixture(scope="session")
def tiny_inpaint_model(tmp_path_factory) -> str:
    """Directory of a tiny random diffusers inpainting pipeline (model resolution 64 px)."""
    return build_tiny_inpaint_pipeline(tmp_path_factory.mktemp("tiny_inpaint"))


@pytest.fixture(scope="session")
def tiny_inpainter(tiny_inpaint_model) -> DiffusionInpainter:
    return DiffusionInpainter(model=tiny_inpaint_model, device="cpu", progress=False)
