import pytest
from django.core.cache import cache

from vendors import http as vendor_http
from vendors.selectors import invalidate_routing_table


@pytest.fixture(autouse=True)
def _isolated_state(settings, tmp_path):
    """Every test starts with an empty cache, fresh routing tables and its own media folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    invalidate_routing_table()
    from imagegen.api.auth import invalidate_client_keys

    invalidate_client_keys()
    vendor_http._clients.clear()
    yield
    cache.clear()
    invalidate_routing_table()
    invalidate_client_keys()
