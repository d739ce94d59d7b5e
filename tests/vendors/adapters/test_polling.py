"""The poll loop the polling kinds share (vendors.adapters.polling), on a scripted adapter without HTTP.

``cancel_while_polling`` and ``ForeignHost`` are used by the kinds' own tests as well.
"""

import asyncio
import itertools
import logging
import time
from types import SimpleNamespace

import httpx
import pytest
from aiohttp import web

from tests.fakes.server import FakeServer
from vendors import errors
from vendors.adapters import polling
from vendors.adapters.base import ImageRequest, UpstreamImage, VendorTarget
from vendors.adapters.polling import Job, JobLost, PollAgain, PollingAdapter, backoff, same_site

REQUEST = ImageRequest(prompt="a lighthouse in fog", model="scripted")
IMAGE = [UpstreamImage(url="https://cdn.example.com/a.png")]


def cancel_while_polling(adapter, request, key, started) -> None:
    """Run ``adapter.call`` as a task, cancel it once ``started()`` is true, and check it ends cancelled."""

    async def run():
        async with httpx.AsyncClient(trust_env=False) as client:
            task = asyncio.create_task(adapter.call(client, request, key))
            for _ in range(500):
                if started() or task.done():
                    break
                await asyncio.sleep(0.01)
            assert not task.done(), "the call ended before it could be cancelled"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(run())


class ForeignHost(FakeServer):
    """Another site that a vendor's answer might point at: records what arrives, answers 404."""

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self.anything)

    async def anything(self, request: web.Request) -> web.Response:
        return web.json_response({"detail": "nothing here"}, status=404)

    def foreign_base(self) -> str:
        """This server under another host name than the vendor fakes' 127.0.0.1."""
        return f"http://localhost:{self.port}"


class Scripted(PollingAdapter):
    """Each poll plays the next answer: None (not yet), a list of images, or an exception to raise."""

    kind = "scripted"
    label = "scripted"

    def __init__(self, answers=(), *, timeout: float = 2.0, forever=None):
        super().__init__(VendorTarget(name="scripted", base_url="https://api.example.com", timeout=timeout))
        self.answers = list(answers)
        self.forever = forever
        self.polls = 0
        self.submits = 0
        self.poll_first, self.poll_max = 0.005, 0.02

    async def submit(self, client, request, key, deadline):
        self.submits += 1
        return Job(id="job-42", deadline=deadline, poll_url="https://api.example.com/jobs/job-42")

    async def poll(self, client, job, key):
        self.polls += 1
        answer = self.answers.pop(0) if self.answers else self.forever
        if isinstance(answer, BaseException):
            raise answer
        return answer


def run(adapter, key="k-1"):
    return asyncio.run(adapter.call(None, REQUEST, key))


def test_it_polls_until_the_job_is_done_and_returns_its_images():
    adapter = Scripted([None, None, IMAGE])

    assert run(adapter) == IMAGE
    assert (adapter.submits, adapter.polls) == (1, 3)


@pytest.mark.parametrize(
    "transient",
    [
        errors.UpstreamUnavailable("HTTP 503"),
        errors.RateLimited("slow down"),
        errors.UpstreamTimeout("the vendor closed the connection after 2 s without an answer"),
        PollAgain("unreadable"),
    ],
    ids=["5xx", "429", "dropped", "unreadable"],
)
def test_transient_poll_failures_are_asked_again_not_resubmitted(transient):
    adapter = Scripted([transient, transient, IMAGE])

    assert run(adapter) == IMAGE
    assert (adapter.submits, adapter.polls) == (1, 3)


def test_a_key_error_after_the_submit_stops_without_trying_another_key():
    adapter = Scripted([None, errors.KeyRejected("Unauthenticated", vendor_status=401)])

    with pytest.raises(JobLost) as caught:
        run(adapter)

    assert caught.value.tries_next_key is False
    assert "job-42" in caught.value.message and "Unauthenticated" in caught.value.message


def test_a_job_the_vendor_reports_failed_ends_the_wait_with_that_error():
    adapter = Scripted([None, errors.GenerationFailed("the job ended with an error")], forever=IMAGE)

    with pytest.raises(errors.GenerationFailed):
        run(adapter)
    assert adapter.polls == 2


def test_a_job_that_never_finishes_times_out_at_the_deadline_and_says_it_was_not_resubmitted():
    adapter = Scripted(timeout=0.3)
    started = time.monotonic()

    with pytest.raises(errors.UpstreamTimeout) as caught:
        run(adapter)

    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.8
    assert adapter.submits == 1 and adapter.polls > 3
    message = caught.value.message
    assert "job-42" in message and "submitted" in message and "0.3 s" in message and "not resubmitted" in message
    assert "://" not in message and "k-1" not in message
    assert caught.value.tries_next_key is False


def test_transient_failures_until_the_deadline_end_as_a_timeout_not_as_the_transient_error():
    adapter = Scripted(timeout=0.2, forever=errors.UpstreamUnavailable("HTTP 502"))

    with pytest.raises(errors.UpstreamTimeout):
        run(adapter)
    assert adapter.submits == 1


def test_backoff_starts_small_grows_and_stops_at_the_cap():
    pauses = list(itertools.islice(backoff(0.5, 4.0), 8))

    assert pauses[:3] == pytest.approx([0.5, 0.8, 1.28])
    assert pauses == sorted(pauses)
    assert pauses[-3:] == [4.0, 4.0, 4.0]


def test_the_default_pauses_grow_to_the_cap_and_the_last_one_stops_at_the_deadline(monkeypatch):
    clock = SimpleNamespace(now=1000.0)
    pauses = []

    async def sleep(seconds):
        pauses.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(polling, "time", SimpleNamespace(monotonic=lambda: clock.now))
    monkeypatch.setattr(
        polling, "asyncio", SimpleNamespace(sleep=sleep, shield=asyncio.shield, CancelledError=asyncio.CancelledError)
    )
    adapter = Scripted(timeout=20.0)
    del adapter.poll_first, adapter.poll_max  # the class defaults: 0.5 s growing to 4 s

    with pytest.raises(errors.UpstreamTimeout):
        run(adapter)

    assert pauses[0] == 0.5 and max(pauses) == 4.0
    assert sum(pauses) == pytest.approx(20.0)
    assert pauses[-1] < 4.0  # cut short: never past the deadline


def test_cancelling_the_task_ends_the_wait_at_once_when_the_kind_has_no_cancel_request():
    adapter = Scripted(timeout=30.0)

    cancel_while_polling(adapter, REQUEST, "k-1", started=lambda: adapter.polls >= 2)

    assert adapter.submits == 1


@pytest.mark.parametrize(
    ("url", "followed"),
    [
        ("https://api.bfl.ai/v1/get_result?id=1", True),
        ("https://api.us.bfl.ai/v1/get_result?id=1", True),  # regional sibling: same registrable domain
        ("https://api.eu.bfl.ai:443/v1/get_result?id=1", True),
        ("https://bfl.ai/v1/get_result?id=1", True),
        ("http://api.us.bfl.ai/v1/get_result?id=1", False),  # scheme downgrade
        ("https://api.us.bfl.ai:8443/v1/get_result?id=1", False),  # another port
        ("https://api.bfl.ai.evil.com/v1/get_result?id=1", False),
        ("https://evilbfl.ai/v1/get_result?id=1", False),
        ("https://api.bfl.ai@evil.com/v1/get_result?id=1", False),  # userinfo trick
        ("ftp://api.bfl.ai/x", False),
        ("/v1/get_result?id=1", False),
        ("https://[::1/", False),
    ],
)
def test_a_vendor_url_gets_the_key_only_on_the_vendors_own_site(url, followed):
    assert same_site(url, "https://api.bfl.ai") is followed


def test_ip_hosts_must_match_exactly():
    assert same_site("http://127.0.0.1:8000/x", "http://127.0.0.1:8000")
    assert not same_site("http://127.0.0.2:8000/x", "http://127.0.0.1:8000")
    assert not same_site("http://127.0.0.1:8001/x", "http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("url", "base", "followed"),
    [
        ("https://eu.api.vendor.co.uk/x", "https://api.vendor.co.uk", True),
        ("https://evil.co.uk/x", "https://api.vendor.co.uk", False),
        ("https://eu.vendor.com.au/x", "https://api.vendor.com.au", True),
        ("https://evil.com.au/x", "https://api.vendor.com.au", False),  # a suffix the hand-kept list missed
        ("https://attacker.herokuapp.com/x", "https://vendor.herokuapp.com", False),  # two tenants of one platform
        ("https://attacker.github.io/x", "https://vendor.github.io", False),
        ("https://poll.vendor.internal/x", "https://api.vendor.internal", False),  # a TLD the list does not know
        ("https://api.vendor.internal/x", "https://api.vendor.internal", True),  # ... still its own host
    ],
)
def test_the_registrable_domain_is_the_public_suffix_lists(url, base, followed):
    assert same_site(url, base) is followed


def test_follow_falls_back_to_the_url_built_from_the_base():
    adapter = Scripted()

    assert adapter.follow("https://poll.example.com/jobs/1", "fallback") == "https://poll.example.com/jobs/1"
    assert adapter.follow("https://example.org/jobs/1", "fallback") == "fallback"
    assert adapter.follow(None, "fallback") == "fallback"
    assert adapter.follow("https://[::1/jobs/1", "fallback") == "fallback"
    assert adapter.follow(["https://poll.example.com/jobs/1"], "fallback") == "fallback"


def test_a_refused_poll_url_is_logged_with_its_host_masked_and_without_path_or_query(caplog):
    caplog.set_level(logging.WARNING, logger="vendors.adapters.polling")

    Scripted().follow("https://evil.attacker.org:8443/jobs/1?token=s3cr3t", "fallback")

    [record] = caplog.records
    line = record.getMessage()
    assert "not sending the key to scheme https, host e*.a*.org, port 8443" in line
    assert "attacker" not in line and "/jobs" not in line and "s3cr3t" not in line


def test_the_cancel_request_outlives_a_second_cancellation_which_still_propagates():
    seen = []

    async def vendor(request):
        await asyncio.sleep(0.1)
        seen.append((request.method, str(request.url), request.headers.get("authorization")))
        return httpx.Response(200)

    adapter = Scripted(timeout=30.0)
    adapter.auth_headers = lambda key: {"Authorization": f"Key {key}"}
    adapter.cancel_url = "https://api.example.com/jobs/job-42/cancel"
    submit = adapter.submit

    async def submit_with_cancel_url(*args):
        job = await submit(*args)
        job.cancel_url = adapter.cancel_url
        return job

    adapter.submit = submit_with_cancel_url

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.MockTransport(vendor)) as client:
            task = asyncio.create_task(adapter.call(client, REQUEST, "k-1"))
            while adapter.polls < 1:
                await asyncio.sleep(0.005)
            task.cancel()
            await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert seen == []  # the task ended before the cancel request was answered ...
            await asyncio.sleep(0.2)

    asyncio.run(scenario())

    assert seen == [("POST", "https://api.example.com/jobs/job-42/cancel", "Key k-1")]  # ... which went on
