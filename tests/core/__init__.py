"""Shared helpers for the core tests."""

import pytest

from core.fetch import ImageFetchFailed, fetch_image_bytes
from tests.proxy import run


def fails(url: str, **kwargs) -> str:
    """The message of the ImageFetchFailed that fetching ``url`` ends with."""
    with pytest.raises(ImageFetchFailed) as caught:
        run(fetch_image_bytes(url, **kwargs))
    return str(caught.value)
