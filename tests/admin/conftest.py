"""Shared by the admin pages' browser tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: $SCREENSHOT_DIR when it is set, else the test's tmp_path."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
