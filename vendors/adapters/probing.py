"""Checking a key without paying: each kind's free probe, and what its answer says.

A kind declares its probe in ``Adapter.probe_requests``: requests to an endpoint that generates
nothing (a models list, an account or a balance), tried in order while one answers 404 (a relay
without the first one). ``Adapter.probe_summary`` picks a few words from a passing answer. A kind
whose API has no such endpoint returns no requests, and the probe says so.

The verdict has three values: the key works (``passed``), the vendor refused it (an answer the key
loop would auto-disable the key for: invalid, no permission, balance spent), or no verdict (the
vendor is down, rate limited, or answered something else). Every text is masked: no URL, no key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from core.redaction import admin_text
from vendors import errors
from vendors.adapters.reading import Json, as_dict, as_list, json_body
from vendors.transport import send

if TYPE_CHECKING:
    from vendors.adapters.base import Adapter

# A probe is a small GET: it never needs a generation's time.
PROBE_TIMEOUT = 15.0
NO_PROBE = "this kind's API has no free check (a paid test generation checks the key)"


@dataclass(frozen=True)
class ProbeAnswer:
    """What one probe of one key said."""

    passed: bool | None  # True: the key works; False: the vendor refused it; None: no verdict
    summary: str  # the answer in a few words, masked (a balance, an account, the vendor's error)
    latency: float = 0.0  # seconds, from the first request sent to the last answer
    status: int | None = None  # the HTTP status of the answer the verdict came from
    code: str = ""  # the error's code when it did not pass (vendors.errors)

    @property
    def verdict(self) -> str:
        return {True: "passed", False: "refused"}.get(self.passed, "no verdict")


async def probe(adapter: Adapter, client: httpx.AsyncClient, key: str) -> ProbeAnswer:
    """Run ``adapter``'s probe with ``key``: never a generation, never raises for a vendor's answer."""
    try:
        requests = adapter.probe_requests(key)
    except errors.UpstreamError as exc:  # a key that cannot be sent at all (Workers AI without an account)
        return ProbeAnswer(False if exc.disables_key else None, admin_text(exc.detail, key), code=exc.code)
    if not requests:
        return ProbeAnswer(None, NO_PROBE)
    started = time.monotonic()
    try:
        response = await _first_found(client, requests, min(adapter.vendor.timeout, PROBE_TIMEOUT))
    except errors.UpstreamError as exc:
        return ProbeAnswer(None, admin_text(exc.detail, key), time.monotonic() - started, code=exc.code)
    latency = time.monotonic() - started
    passed, summary, code = adapter.probe_verdict(response)
    return ProbeAnswer(passed, admin_text(summary, key), latency, response.status_code, code)


async def _first_found(client: httpx.AsyncClient, requests: list[httpx.Request], timeout: float) -> httpx.Response:
    response = None
    for request in requests:
        response = await send(client, request, timeout=timeout)
        if response.status_code != 404:
            break
    return response


def verdict(adapter: Adapter, response: httpx.Response) -> tuple[bool | None, str, str]:
    """``(passed, summary, error code)`` of a probe's answer: a 2xx of JSON passes (unless it carries an
    error); a failure refuses the key when the key loop would disable it for the same answer."""
    body = json_body(response)
    if response.is_success and body is None:  # every probe endpoint answers JSON: this is someone else's page
        return (
            None,
            f"the answer (HTTP {response.status_code}) is not the vendor's JSON",
            errors.UpstreamUnavailable.code,
        )
    failure = adapter.error_in_success(response, body) if response.is_success else adapter.classify_error(response)
    if failure is None:
        return True, adapter.probe_summary(body) or f"HTTP {response.status_code}", ""
    return (False if failure.disables_key else None), failure.detail, failure.code


# --- summaries the kinds share -------------------------------------------------------------------
def model_count(body: Json) -> str:
    """``N models`` from an OpenAI-style list (``{"data": [...]}``) or a bare array."""
    items = as_list(as_dict(body).get("data")) if isinstance(body, dict) else as_list(body)
    return f"{len(items)} model(s) listed"


def amount(label: str, value: Json) -> str:
    """``label value`` for a number or a numeric string; "" for anything else."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return f"{label} {value:g}"
    if isinstance(value, str) and value.strip().replace(".", "", 1).lstrip("-").isdigit():
        return f"{label} {value.strip()}"
    return ""
