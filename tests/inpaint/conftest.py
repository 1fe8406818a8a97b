"""Fixtures for the editing stage: a tiny random inpainting pipeline saved to disk once per session."""

import pytest

from inpaint import DiffusionInpainter


@pytest.fixture(scope="session")
def tiny_inpainter(tiny_inpaint_model) -> DiffusionInpainter:
    # No dtype: the family default on the CPU (float32), as users get it.
    return DiffusionInpainter(model=tiny_inpaint_model, device="cpu", progress=False)
