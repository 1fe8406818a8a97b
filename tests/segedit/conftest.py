"""Fixtures shared by the orchestration and CLI tests."""
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def text_cache(tmp_path_factory) -> Path:
    """Shared by a module's runs: the tiny CLIP's text embeddings are computed once."""
    return tmp_path_factory.mktemp("text-cache")
