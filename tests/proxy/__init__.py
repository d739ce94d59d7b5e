"""Shared helpers for the proxy tests."""

import asyncio

from core import http as core_http


def run(coro):
    """Run a coroutine in a fresh loop and close the shared client that loop created."""

    async def main():
        try:
            return await coro
        finally:
            await core_http.close_client()

    return asyncio.run(main())
