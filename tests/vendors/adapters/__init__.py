"""Helpers for the adapter tests: run one real call against a fake vendor, and check an error is safe to show."""

from __future__ import annotations

import asyncio

import httpx

from vendors import errors


def call(adapter, request, key: str):
    """``adapter.call`` over a real ``httpx.AsyncClient``, in a fresh event loop."""

    async def run():
        async with httpx.AsyncClient(trust_env=False) as client:
            return await adapter.call(client, request, key)

    return asyncio.run(run())


def fetch(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5, trust_env=False)


def failure_of(adapter, request, key: str) -> errors.UpstreamError:
    """The UpstreamError the call raises, checked to hold neither the key nor any URL."""
    try:
        call(adapter, request, key)
    except errors.UpstreamError as exc:
        assert key not in exc.message
        assert "://" not in exc.message and "127.0.0.1" not in exc.message
        assert exc.message.strip()
        return exc
    raise AssertionError("the call succeeded")
