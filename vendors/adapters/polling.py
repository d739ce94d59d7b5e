"""What the submit-then-poll kinds (Replicate, BFL, fal) share: one bounded poll loop.

A polling kind submits a job, then asks about it until it is done. The rules, the same for all three:

- **One deadline**: ``vendor.timeout`` seconds from the submit cover the submit, every poll and the result
  fetch. Pauses between polls start at ``poll_first`` and grow by ``poll_growth`` up to ``poll_max``; no
  pause and no request runs past the deadline. Tests shrink the pauses on the instance.
- **Never resubmitted**: once the vendor has the job it may bill for it, so nothing after the submit may
  let the key loop try another key with a new job. The deadline passing is ``UpstreamTimeout``; a poll the
  vendor refuses (401, 404, unreadable answers) is ``JobLost``; both stop the key loop. Transient poll
  trouble (connection errors, 5xx, 429, a dropped connection) is retried within the deadline. The only
  after-submit errors that let the key loop go on are ``GenerationFailed`` for a job the vendor itself
  reports as ended without an image (failed, errored, cancelled): that job is over, and a new attempt
  may succeed. Moderation is ``ContentPolicy`` (never another key).
- **Cancellation**: when the awaiting task is cancelled (the client went away) or the deadline passes, the
  vendor's cancel request is sent, best effort, shielded and with a short timeout (kinds without one skip it).
- **Poll URLs from the vendor carry our key**: they are followed only when their scheme and port are the base
  URL's and their host is the base URL's host or shares its registrable domain by the Public Suffix List
  (``api.us.bfl.ai`` next to ``api.bfl.ai``; never two tenants of ``herokuapp.com``); otherwise the kind
  builds the URL from the base URL and the job id, and logs the refused URL's masked host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

from core.domains import is_ip, registrable_domain
from core.redaction import masked_host, scrub
from vendors import errors
from vendors.adapters.base import ImageAdapter, ImageRequest, UpstreamImage
from vendors.adapters.reading import Json, json_body
from vendors.errors import JobLost
from vendors.transport import send

log = logging.getLogger(__name__)


class PollAgain(Exception):
    """One poll answered "not now" in a way that is not an answer about the job (retried)."""


class _DeadlinePassed(Exception):
    pass


@dataclass
class Job:
    """One submitted job and where to ask about it (URLs already checked by ``follow``)."""

    id: str
    deadline: float  # time.monotonic() value at which the wait ends
    poll_url: str
    result_url: str = ""
    cancel_url: str = ""
    wanted: int = 1  # images asked for
    misses: int = 0  # polls in a row that did not find the job

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def label(self) -> str:
        return scrub(self.id)[:80] or "?"


def backoff(first: float, cap: float, growth: float = 1.6) -> Iterator[float]:
    """Pauses between polls: ``first``, growing by ``growth`` each time, never above ``cap``."""
    pause = max(first, 0.001)
    while True:
        yield min(pause, cap)
        pause = min(pause * growth, max(cap, 0.001))


def same_site(url: str, base: str) -> bool:
    """Whether ``url`` may receive the key meant for ``base``: same scheme and port, and the same host
    or the same registrable domain by the Public Suffix List (``core.domains``). IP hosts, and hosts under
    a TLD the list does not know, must match exactly."""
    try:
        target, home = urlsplit(url), urlsplit(base)
        target_port, home_port = _port(target), _port(home)
    except ValueError:
        return False
    if target.scheme.lower() not in ("http", "https") or target.scheme.lower() != home.scheme.lower():
        return False
    host, home_host = (target.hostname or "").rstrip("."), (home.hostname or "").rstrip(".")
    if not host or not home_host or target_port != home_port:
        return False
    if host == home_host:
        return True
    if is_ip(host) or is_ip(home_host):
        return False
    site = registrable_domain(host)
    return site is not None and site == registrable_domain(home_host)


def _masked(url: Json) -> str:
    """Where a refused URL points, for the log: scheme, masked host and port (no path, no query)."""
    if not isinstance(url, str):
        return "a value that is not a URL"
    try:
        parts = urlsplit(url)
        return f"scheme {parts.scheme or '?'}, host {masked_host(parts.hostname or '')}, port {_port(parts)}"
    except ValueError:
        return "an unreadable URL"


def _port(parts: SplitResult) -> int | None:
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


class PollingAdapter(ImageAdapter):
    """Base of the polling kinds. Subclasses implement ``submit``, ``poll`` and (when the vendor has one)
    ``cancel_request``; ``call`` runs the submit and then ``wait_for``."""

    poll_first: float = 0.5  # seconds before the first poll
    poll_max: float = 4.0  # the longest pause between polls
    poll_growth: float = 1.6
    poll_request_timeout: float = 30.0  # one poll request; the deadline bounds it too
    cancel_timeout: float = 3.0
    cancel_method: str = "POST"

    # --- to implement ------------------------------------------------------------------------
    async def submit(
        self, client: httpx.AsyncClient, request: ImageRequest, key: str, deadline: float
    ) -> Job | list[UpstreamImage]:
        """Send the job; return the ``Job`` to wait for, or the images when the answer already holds them."""
        raise NotImplementedError

    async def poll(self, client: httpx.AsyncClient, job: Job, key: str) -> list[UpstreamImage] | None:
        """Ask once: the images when done, None when not yet; raise for an outcome without images."""
        raise NotImplementedError

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def cancel_request(self, job: Job, key: str) -> httpx.Request | None:
        if not job.cancel_url:
            return None
        return httpx.Request(self.cancel_method, job.cancel_url, headers=self.auth_headers(key))

    # --- the shared flow ---------------------------------------------------------------------
    async def call(self, client: httpx.AsyncClient, request: ImageRequest, key: str) -> list[UpstreamImage]:
        deadline = time.monotonic() + self.vendor.timeout
        submitted = await self.submit(client, request, key, deadline)
        if not isinstance(submitted, Job):
            return submitted
        return await self.wait_for(client, submitted, key)

    async def send_submit(self, client: httpx.AsyncClient, request: httpx.Request, deadline: float) -> httpx.Response:
        """The submit: errors here are classified normally (the key loop may try another key)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.UpstreamUnavailable("no time was left to submit the job")
        response = await send(client, request, timeout=remaining)
        if response.status_code >= 400:
            raise self.classify_error(response)
        return response

    async def fetch(self, client: httpx.AsyncClient, request: httpx.Request, job: Job) -> httpx.Response:
        """One request about a submitted job, bounded by the deadline."""
        remaining = job.remaining()
        if remaining <= 0:
            raise _DeadlinePassed
        return await send(client, request, timeout=min(remaining, self.poll_request_timeout))

    async def wait_for(self, client: httpx.AsyncClient, job: Job, key: str) -> list[UpstreamImage]:
        """Poll ``job`` until it is done, fails, or the deadline passes (then cancel it and time out)."""
        pauses = backoff(self.poll_first, self.poll_max, self.poll_growth)
        extra = 0.0
        try:
            while True:
                remaining = job.remaining()
                if remaining <= 0:
                    raise _DeadlinePassed
                await asyncio.sleep(min(max(next(pauses), extra), remaining))
                extra = 0.0
                try:
                    images = await self.poll(client, job, key)
                except (errors.UpstreamUnavailable, errors.RateLimited, errors.UpstreamTimeout, PollAgain) as exc:
                    # Transient: ask again (a dropped or timed-out poll loses nothing; the job runs on).
                    log.info("vendor %s job %s: poll failed, retrying (%s)", self.vendor.name, job.label, exc)
                    extra = getattr(exc, "retry_after", None) or 0.0
                    continue
                except errors.KeyRejected as exc:  # never let a key error after submit start a new job
                    raise _lost(job, exc.message, exc.detail, exc.vendor_status) from exc
                if images is not None:
                    return images
        except _DeadlinePassed:
            pass
        except asyncio.CancelledError:
            # Cancelled again while the cancel request runs: it runs on (shielded); we stop waiting for it.
            with contextlib.suppress(asyncio.CancelledError):
                await self._cancel(client, job, key, "the client went away")
            raise
        await self._cancel(client, job, key, "the deadline passed")
        raise errors.UpstreamTimeout(
            f"the job {job.label} was submitted but did not finish within {self.vendor.timeout:g} s; "
            "it was not resubmitted"
        )

    async def _cancel(self, client: httpx.AsyncClient, job: Job, key: str, reason: str) -> None:
        """Best effort: the vendor's cancel request, shielded from our own cancellation, short timeout."""
        request = self.cancel_request(job, key)
        if request is None:
            return
        try:
            response = await asyncio.shield(send(client, request, timeout=self.cancel_timeout))
        except Exception as exc:  # best effort: never hide why the wait ended
            log.info("vendor %s job %s: cancel (%s) failed: %s", self.vendor.name, job.label, reason, exc)
            return
        log.info("vendor %s job %s: cancelled (%s): HTTP %s", self.vendor.name, job.label, reason, response.status_code)

    # --- helpers for the kinds ----------------------------------------------------------------
    def follow(self, url: Json, fallback: str) -> str:
        """``url`` when the vendor's own site serves it (see ``same_site``), else ``fallback``."""
        if isinstance(url, str) and url and same_site(url, self.vendor.base_url):
            return url
        if url:
            log.warning("vendor %s: not sending the key to %s; using the base URL", self.vendor.name, _masked(url))
        return fallback

    def poll_error(self, response: httpx.Response, job: Job) -> errors.UpstreamError:
        """A poll answered with an HTTP error: transient ones are retried by ``wait_for``, the rest end the
        wait without a resubmission."""
        facts = self.error_facts(response, json_body(response))
        status, words = facts.status, facts.message
        if status == 429:
            return errors.RateLimited.from_vendor(words, retry_after=facts.retry_after, vendor_status=status)
        if status == 408 or status >= 500:
            return errors.UpstreamUnavailable.from_vendor(words, vendor_status=status)
        refusal = errors.UpstreamError.from_vendor(words)
        return _lost(job, refusal.message, refusal.detail, status)

    def submitted_body(self, response: httpx.Response) -> dict[str, Json]:
        """The submit's 2xx answer as an object; anything else means a job we cannot follow."""
        body = json_body(response)
        if not isinstance(body, dict):
            raise JobLost("the vendor accepted the job but its answer could not be read", vendor_status=200)
        return body


def _lost(job: Job, message: str, detail: str, status: int | None) -> JobLost:
    said = "the job {} was submitted but the vendor refused to report on it: {}"
    return JobLost(said.format(job.label, message), detail=said.format(job.label, detail), vendor_status=status)
