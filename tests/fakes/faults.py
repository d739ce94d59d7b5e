"""Faults every fake can be told to answer with, instead of its normal answer: one mechanism for all kinds.

    fake.faults.inject(status(503, text="busy"))                       # every submit from now on
    fake.faults.inject(drop(), times=1)                                # only the next submit
    fake.faults.inject(redirect("http://10.0.0.7/a.png"), at="file")   # the image URLs the fake hosts
    fake.faults.fired                                                  # (site, fault name) of each fault answered

Sites, read from the request: ``file`` (``GET /files/...``, the images a fake hosts), ``cancel`` (a path
ending in ``/cancel``), ``submit`` (any other POST: the call that generates or submits a job) and ``poll``
(any other GET: a polled job's status or result). The request is recorded (``fake.requests``) before its fault
answers, so a test can count what reached the fake.

Answers: :func:`status` (any status, a JSON or text body, headers), :func:`garbage_json` (a 200 whose JSON is
cut short), :func:`html_page` (a proxy's HTML page naming internal addresses), :func:`no_first_byte` (reads
the request, then says nothing), :func:`drop` (reads the request, then closes the connection, at once or
later), :func:`trickle` (a 200 whose body comes a byte at a time) and :func:`redirect`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from aiohttp import web

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]
SITES = ("submit", "poll", "file", "cancel")
# What a proxy's error page may give away; the gateway must never pass it on to a client.
INTERNAL_HOST = "10.20.30.40"
INTERNAL_NAME = "gpu-node-7.cluster.internal"


@dataclass(frozen=True)
class Fault:
    name: str
    answer: Answer


@dataclass
class _Planned:
    fault: Fault
    site: str
    times: int | None  # None: every matching request


@dataclass
class FaultPlan:
    """The faults a fake answers with, in the order they were injected (the first matching one wins)."""

    planned: list[_Planned] = field(default_factory=list)
    fired: list[tuple[str, str]] = field(default_factory=list)

    def inject(self, fault: Fault, *, at: str = "submit", times: int | None = None) -> None:
        if at not in SITES:
            raise ValueError(f"unknown site {at!r}; one of {SITES}")
        self.planned.append(_Planned(fault, at, times))

    def clear(self) -> None:
        self.planned.clear()

    def take(self, site: str) -> Fault | None:
        for planned in self.planned:
            if planned.site != site:
                continue
            if planned.times is not None:
                planned.times -= 1
                if planned.times <= 0:
                    self.planned.remove(planned)
            self.fired.append((site, planned.fault.name))
            return planned.fault
        return None


def site_of(request: web.Request) -> str:
    if request.path.startswith("/files/"):
        return "file"
    if request.path.rstrip("/").endswith("/cancel"):
        return "cancel"
    return "submit" if request.method == "POST" else "poll"


# --- answers ---------------------------------------------------------------------------------------
def status(
    code: int,
    body: object = None,
    *,
    text: str | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    name: str = "",
) -> Fault:
    """``code`` with ``body`` as JSON, or ``text`` as it is (then ``content_type`` says what it is). ``body`` may
    be a callable of the request (to echo what it carried, as vendors do)."""

    async def answer(request: web.Request) -> web.Response:
        payload = text if text is not None else json.dumps(body(request) if callable(body) else body)
        return web.Response(status=code, text=payload, content_type=content_type, headers=headers)

    return Fault(name or f"http-{code}", answer)


def garbage_json() -> Fault:
    return status(200, text='{"images": [{"url": "http', name="garbage-json")


def html_page(code: int = 200) -> Fault:
    """A page such as a proxy, a captive portal or a CDN serves, naming the machines behind it."""
    title = f"{code} {HTTPStatus(code).phrase}"
    page = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>upstream {INTERNAL_NAME} ({INTERNAL_HOST}:8443) refused the request.</p>"
        "<hr><address>nginx/1.25.3</address></body></html>"
    )
    return status(code, text=page, content_type="text/html", name=f"html-{code}")


def no_first_byte(seconds: float = 10.0) -> Fault:
    async def answer(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)  # cancelled when the client hangs up (handler_cancellation)
        return web.Response(status=200, text="{}", content_type="application/json")

    return Fault("no-first-byte", answer)


def drop(after: float = 0.0) -> Fault:
    """Read the request, wait ``after`` seconds, close the connection without a byte of answer."""

    async def answer(request: web.Request) -> web.Response:
        if after:
            await asyncio.sleep(after)
        request.transport.close()
        await asyncio.sleep(10)  # the closed connection cancels this handler
        raise web.HTTPInternalServerError

    return Fault("dropped" if not after else f"dropped-after-{after:g}s", answer)


def trickle(every: float = 0.2, seconds: float = 10.0) -> Fault:
    """A 200 whose headers come at once and whose (valid JSON) body comes one space every ``every`` s."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(int(seconds / every)):
            await response.write(b" ")
            await asyncio.sleep(every)
        await response.write(b"{}")
        await response.write_eof()
        return response

    return Fault("trickle", answer)


def redirect(location: str, code: int = 302) -> Fault:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=code, headers={"Location": location})

    return Fault(f"redirect-{code}", answer)
