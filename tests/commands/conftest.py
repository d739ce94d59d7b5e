import os

import pytest

SEED_FAMILIES = ("FLUX_GEN_", "IMAGE_GEN_", "OPENAI_")


@pytest.fixture
def clean_env(monkeypatch):
    """The real environment's vendor variables must not leak into the import's tests."""
    for name in list(os.environ):
        if name.startswith(SEED_FAMILIES) or name == "AUTHORIZED_API_KEY":
            monkeypatch.delenv(name)
    return monkeypatch
