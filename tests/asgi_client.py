"""Requests through the whole ASGI application in this process, as uvicorn hands them over, with no server:
``imagegen.asgi.application`` (the request id and the metrics of ``imagegen.observed``, then Django).

Django's test client calls the views below that layer; these tests need the layer itself."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from imagegen.asgi import application

LOOPBACK = ("127.0.0.1", 50000)


def asgi_request(method: str, path: str, *, client: tuple[str, int] = LOOPBACK, **kwargs) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as http:
            return await http.request(method, path, **kwargs)

    return asyncio.run(send())


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus' text as {(sample name, its labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)
