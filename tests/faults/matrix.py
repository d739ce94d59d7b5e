"""The fault matrix: each fault, the kinds it applies to, how the stage is set for it and what must follow.

A row's fault hits every request of its site unless the row says how many (both keys meet it), so a
fault that lets the request move on shows the second key tried and failing too, and the client hears the
gateway's final word. What each row expects is an :class:`Expect`: the client's status and error code,
what became of each key tried, how many keys were tried (each exactly once: nothing is resubmitted), and
the outcome and ``sent`` flag of every ledger attempt.
"""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from PIL import Image

from tests.fakes import faults
from tests.faults.bodies import kind_fault
from vendors.adapters import adapter_class, image_kinds
from vendors.adapters.polling import PollingAdapter

ALL_KINDS = tuple(image_kinds())  # from the registry: a new kind meets every fault (its bodies: tests.faults.bodies)
POLLING_KINDS = tuple(kind for kind in ALL_KINDS if issubclass(adapter_class(kind), PollingAdapter))
# Kinds whose answer is a URL the gateway downloads (chat_image in its Markdown https mode, see ``Stage``).
URL_KINDS = ("siliconflow", "chat_image", "openai_images", "replicate", "bfl", "fal")
PRIVATE_TARGET = "http://10.255.0.7/stolen.png"
QUICK_TIMEOUT = 0.5  # the vendor timeout of the rows that wait for a silent vendor


@dataclass(frozen=True)
class Expect:
    status: int
    code: str  # the client's error.code ("" for a success)
    keys: str  # what each key tried is after: "disabled", "cooling", "failing" (a streak of one), "untouched"
    tried: int  # keys tried, each with exactly one request
    outcome: str  # every ledger attempt's outcome
    sent: bool | None  # every ledger attempt's ``sent``
    rest: tuple[float, float] | None = None  # "cooling": the rest's bounds, in seconds

    @property
    def generation(self) -> str:
        return "success" if self.status == 200 else "failed"


ALL_KEYS_REJECTED = Expect(502, "upstream_error", "disabled", 2, "upstream_key_rejected", True)
REFUSED_PROMPT = Expect(400, "content_policy_violation", "untouched", 1, "content_policy_violation", True)
REFUSED_REQUEST = Expect(400, "upstream_bad_request", "untouched", 1, "upstream_bad_request", True)
UNAVAILABLE = Expect(502, "upstream_error", "failing", 2, "upstream_unavailable", True)
NOT_CONNECTED = dataclasses.replace(UNAVAILABLE, sent=False)
TIMED_OUT = Expect(504, "upstream_timeout", "failing", 1, "upstream_timeout", True)
NO_IMAGE = Expect(502, "upstream_error", "failing", 2, "upstream_no_image", True)
JOB_LOST = Expect(502, "upstream_job_lost", "failing", 1, "upstream_job_lost", True)
NOT_STORED = Expect(502, "image_fetch_failed", "untouched", 1, "ok", True)
SERVED = Expect(200, "", "untouched", 1, "ok", True)


def resting(low: float, high: float) -> Expect:
    return Expect(502, "upstream_error", "cooling", 2, "upstream_rate_limited", True, (low, high))


@dataclass
class Stage:
    """What a row may change before the request: the fake, the vendor row, settings."""

    kind: str
    fake: object
    settings: object
    monkeypatch: object
    elsewhere: str  # a live server on another port of the vendor's host (it must never be asked)
    vendor_changes: dict = field(default_factory=dict)  # fields of the Vendor row to update

    def inject(self, fault: faults.Fault, at: str = "submit", times: int | None = None) -> None:
        self.fake.faults.inject(fault, at=at, times=times)

    def serve_urls(self) -> None:
        if self.kind == "chat_image":
            self.fake.mode = "markdown_https_url"


Arrange = Callable[[Stage], None]


@dataclass(frozen=True)
class Row:
    fault: str
    kinds: tuple[str, ...]
    arrange: Arrange
    expect: Expect
    overrides: dict[str, Expect] = field(default_factory=dict)

    def expect_for(self, kind: str) -> Expect:
        return self.overrides.get(kind, self.expect)


# --- arrangements ------------------------------------------------------------------------------------
def own(name: str, headers: Callable[[], dict[str, str]] = dict) -> Arrange:
    """The kind's own answer for ``name`` (``tests.faults.bodies``), with the headers made when the row runs."""
    return lambda stage: stage.inject(kind_fault(stage.kind, name, headers()))


def plain(fault: Callable[[], faults.Fault], at: str = "submit", times: int | None = None) -> Arrange:
    return lambda stage: stage.inject(fault(), at=at, times=times)


def retry_at(seconds: int) -> Callable[[], dict[str, str]]:
    return lambda: {"Retry-After": format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)}


def refused_connection(stage: Stage) -> None:
    stage.vendor_changes["base_url"] = "dead"  # the fixture points the vendor at a port nobody listens on


def silent(fault: faults.Fault, at: str = "submit") -> Arrange:
    def arrange(stage: Stage) -> None:
        stage.vendor_changes["timeout"] = QUICK_TIMEOUT
        stage.inject(fault, at=at)

    return arrange


def dropped_late(stage: Stage) -> None:
    stage.monkeypatch.setattr("vendors.transport.SENT_AFTER_SECONDS", 0.2)
    stage.inject(faults.drop(after=0.4))


def image_bytes(data: bytes, max_bytes: int | None = None) -> Arrange:
    def arrange(stage: Stage) -> None:
        stage.fake.image = data
        if max_bytes is not None:
            stage.settings.IMAGE_MAX_BYTES = max_bytes

    return arrange


def at_file(make: Callable[[Stage], faults.Fault]) -> Arrange:
    def arrange(stage: Stage) -> None:
        stage.serve_urls()
        stage.inject(make(stage), at="file")

    return arrange


def trickling_image(stage: Stage) -> None:
    stage.settings.IMAGE_FETCH_TIMEOUT = QUICK_TIMEOUT
    at_file(lambda stage: faults.trickle())(stage)


def noise_png(side: int = 96) -> bytes:
    generator = random.Random(7)
    image = Image.frombytes("RGB", (side, side), bytes(generator.randrange(256) for _ in range(side * side * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


PAGE_NOT_FOUND = faults.status(404, text="404 page not found", content_type="text/plain", name="expired")

ROWS = [
    Row("401", ALL_KINDS, own("401"), ALL_KEYS_REJECTED),
    Row("403-bad-key", ALL_KINDS, own("403-bad-key"), ALL_KEYS_REJECTED),
    Row("403-policy", ALL_KINDS, own("403-policy"), REFUSED_PROMPT),
    Row("403-html-page", ALL_KINDS, plain(lambda: faults.html_page(403)), UNAVAILABLE),
    Row("403-region", ("openai_images",), own("403-region"), REFUSED_REQUEST),
    Row("429-no-retry-after", ALL_KINDS, own("429"), resting(59, 61)),
    Row("429-huge-retry-after", ALL_KINDS, own("429", lambda: {"Retry-After": "99999999999"}), resting(3590, 3601)),
    Row("429-date-retry-after", ALL_KINDS, own("429", retry_at(120)), resting(105, 121)),
    Row(
        "500",
        ALL_KINDS,
        plain(lambda: faults.status(500, text="Internal Server Error", content_type="text/plain")),
        UNAVAILABLE,
    ),
    Row("502-html", ALL_KINDS, plain(lambda: faults.html_page(502)), UNAVAILABLE),
    Row(
        "503", ALL_KINDS, plain(lambda: faults.status(503, {"message": "Service overloaded, try later."})), UNAVAILABLE
    ),
    Row("504", ALL_KINDS, plain(lambda: faults.status(504, "Gateway Timeout")), UNAVAILABLE),
    Row("connection-refused", ALL_KINDS, refused_connection, NOT_CONNECTED),
    Row("no-first-byte", ALL_KINDS, silent(faults.no_first_byte()), TIMED_OUT),
    Row("dropped-at-once", ALL_KINDS, plain(faults.drop), UNAVAILABLE),
    Row("dropped-after-send", ALL_KINDS, dropped_late, TIMED_OUT),
    Row("trickle", ALL_KINDS, silent(faults.trickle()), TIMED_OUT),
    Row("garbage-json", ALL_KINDS, plain(faults.garbage_json), NO_IMAGE, dict.fromkeys(POLLING_KINDS, JOB_LOST)),
    Row("html-200", ALL_KINDS, plain(faults.html_page), NO_IMAGE, dict.fromkeys(POLLING_KINDS, JOB_LOST)),
    Row("non-image-bytes", ALL_KINDS, image_bytes(b"this is not an image, just some text"), NOT_STORED),
    Row("oversized-image", ALL_KINDS, image_bytes(noise_png(), max_bytes=8 * 1024), NOT_STORED),
    Row("expired-url", URL_KINDS, at_file(lambda stage: PAGE_NOT_FOUND), NOT_STORED),
    Row("redirect-private", URL_KINDS, at_file(lambda stage: faults.redirect(PRIVATE_TARGET)), NOT_STORED),
    Row("redirect-other-port", URL_KINDS, at_file(lambda stage: faults.redirect(stage.elsewhere)), NOT_STORED),
    Row("image-url-trickles", URL_KINDS, trickling_image, NOT_STORED),
    Row(
        "poll-401", POLLING_KINDS, plain(lambda: faults.status(401, {"detail": "Unauthenticated"}), at="poll"), JOB_LOST
    ),
    Row("poll-503-once", POLLING_KINDS, plain(lambda: faults.status(503, text="busy"), at="poll", times=1), SERVED),
    Row("poll-no-first-byte", POLLING_KINDS, silent(faults.no_first_byte(), at="poll"), TIMED_OUT),
    Row("poll-garbage-json", POLLING_KINDS, silent(faults.garbage_json(), at="poll"), TIMED_OUT),
]

CASES = [(row, kind) for row in ROWS for kind in row.kinds]
IDS = [f"{kind}-{row.fault}" for row, kind in CASES]

# The optimizer's LLM (openai_chat) meets the faults an API call can meet; never the image ones.
CHAT_ROWS = [row for row in ROWS if row.kinds == ALL_KINDS and row.expect_for("openai_chat") is not NOT_STORED]
CHAT_ROWS.insert(3, next(row for row in ROWS if row.fault == "403-region"))
