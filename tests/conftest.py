import pytest
from django.core.cache import cache

from core.state import reset_process_state


@pytest.fixture(autouse=True)
def _isolated_state(settings, tmp_path):
    """Every test starts with an empty cache, a fresh process state and its own media folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Django's sync test client runs every request in a new event loop, which would leave one
    # unclosed aiohttp session per request; in-process tests ride httpx's own transport instead.
    # The end-to-end tests run the real server on the default aiohttp transport.
    settings.HTTP_TRANSPORT = "httpx"
    cache.clear()
    reset_process_state()
    yield
    cache.clear()
    reset_process_state()
