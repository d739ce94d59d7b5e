import pytest
from django.core.cache import cache

from vendors import http as vendor_http
from vendors import services as vendor_services
from vendors.selectors import invalidate_routing_table


@pytest.fixture(autouse=True)
def _isolated_state(settings, tmp_path):
    """Every test starts with an empty cache, fresh routing tables and its own media folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Django's sync test client runs every request in a new event loop, which would leave one
    # unclosed aiohttp session per request; in-process tests ride httpx's own transport instead.
    # The end-to-end tests run the real server on the default aiohttp transport.
    settings.HTTP_TRANSPORT = "httpx"
    cache.clear()
    invalidate_routing_table()
    from imagegen.api.auth import invalidate_client_keys

    invalidate_client_keys()
    vendor_http._clients.clear()
    vendor_services._last_use_written.clear()
    vendor_services._failing.clear()
    yield
    cache.clear()
    invalidate_routing_table()
    invalidate_client_keys()
