"""The gateway's gunicorn worker: what it hands uvicorn, and the descriptors it makes room for.

Its behaviour under signals and slow clients is tested against a real gunicorn in tests/e2e
(test_shutdown.py, test_connection_bounds.py); these pin the settings it is built from.
"""

import resource
from types import SimpleNamespace

from imagegen.connections import BoundedHttpProtocol
from imagegen.server import GatewayWorker, _raise_open_file_limit, wrap_up_seconds


def uvicorn_config(graceful_timeout: int) -> dict:
    worker = SimpleNamespace(cfg=SimpleNamespace(graceful_timeout=graceful_timeout))
    return GatewayWorker.CONFIG_KWARGS.fget(worker)


def test_uvicorn_gets_the_bounded_protocol_the_keep_alive_and_a_shutdown_that_ends_before_gunicorns_kill(settings):
    settings.KEEPALIVE_TIMEOUT = 7.0

    config = uvicorn_config(120)

    assert config["http"] is BoundedHttpProtocol and config["limit_concurrency"] is None
    assert config["timeout_keep_alive"] == 7.0
    assert config["timeout_graceful_shutdown"] == 119.0
    assert 120 - wrap_up_seconds(120) == 115.0  # the pipeline cuts what still runs first
    assert 0 < wrap_up_seconds(6) < 6 - 1.0


def test_forwarded_headers_are_believed_only_from_the_configured_proxies(settings):
    settings.FORWARDED_ALLOW_IPS = []
    untrusting = uvicorn_config(30)
    settings.FORWARDED_ALLOW_IPS = ["10.0.0.5"]
    trusting = uvicorn_config(30)

    assert (untrusting["proxy_headers"], untrusting["forwarded_allow_ips"]) == (False, [])
    assert (trusting["proxy_headers"], trusting["forwarded_allow_ips"]) == (True, ["10.0.0.5"])


def test_the_open_file_limit_is_raised_toward_two_descriptors_per_connection_within_the_hard_limit(monkeypatch):
    limits = {"value": (1024, 20000)}
    monkeypatch.setattr(resource, "getrlimit", lambda _: limits["value"])
    monkeypatch.setattr(resource, "setrlimit", lambda _, value: limits.update(value=value))

    _raise_open_file_limit(4000)
    raised = limits["value"]
    limits["value"] = (1024, 5000)
    _raise_open_file_limit(4000)
    capped = limits["value"]
    limits["value"] = (65536, 65536)
    _raise_open_file_limit(4000)

    assert raised == (8256, 20000) and capped == (5000, 5000) and limits["value"] == (65536, 65536)
