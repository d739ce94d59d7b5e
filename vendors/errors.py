"""The upstream error tree, and the one table that maps a vendor's failed answer onto it.

| class               | key                         | request                                  |
|---------------------|-----------------------------|------------------------------------------|
| KeyRejected         | auto-disabled at once       | next key                                 |
| RateLimited         | cooldown (Retry-After)      | next key                                 |
| UpstreamUnavailable | suspect, rests, disabled*   | next key                                 |
| GenerationFailed    | suspect, rests, disabled*   | next key (a new attempt may succeed)     |
| UpstreamTimeout     | suspect, rests, disabled*   | stop: the vendor may already have billed |
| JobLost             | suspect, rests, disabled*   | stop: a polled job's outcome is unknown  |
| BadRequest          | none                        | stop, 400 with the vendor's reason       |
| ContentPolicy       | none                        | stop, 400 with the vendor's reason       |
| VendorBusy (caps)   | none (nothing was sent)     | stop, 503 after the cap's queue          |

Adapters translate, the table decides. An adapter reads :class:`ErrorFacts` from a failed answer (the
status, the vendor's scrubbed message, the machine codes in the body and headers, the wait it asked for)
and declares how its kind differs as an :class:`ErrorTable`; :func:`classify` then decides, in one order
for every kind (first match wins):

1. a code the kind declares (``ErrorTable.codes``): it names an error class (the answer), or the HTTP
   status the vendor really means (the steps below then read that status);
2. 429: billing or balance codes or wording -> KeyRejected (a spent quota is no cooldown), else
   RateLimited for the vendor's wait, at least ``ErrorTable.min_rate_limit``;
3. 408, 5xx -> UpstreamUnavailable;
4. 401, 402 -> KeyRejected;
5. moderation codes or wording -> ContentPolicy;
6. bad-key or balance codes or wording -> KeyRejected;
7. 403 -> ``ErrorTable.forbidden``; ``foreign_forbidden`` (UpstreamUnavailable) for a proxy's or CDN's page;
8. 404 -> BadRequest, its message led by ``ErrorTable.not_found_hint``;
9. a status below 400 (an error inside a 200) -> GenerationFailed;
10. anything else -> BadRequest.

An error carried inside a 2xx (a relay's ``{"error": ...}``, Workers AI's ``success: false``) is classified
the same way, with the status it names or its own. A polled job's states after its submit are not decided
here: ``vendors.adapters.polling`` never lets them start a second job. The wording and code lists that steps
2, 5 and 6 read are the data below (``MODERATION_*``, ``KEY_*``, ``BALANCE_*``).

* after failures in a row it rests; on evidence (``vendors.key_evidence``) it is auto-disabled. A timeout
counts against its key like a 5xx (a key that hangs rests), but is never sent again. Every rest is
bounded by ``KEY_MAX_COOLDOWN`` (``vendors.keys``).

Each error has two texts. ``message`` is what the client reads: short, plain, with no HTML, URL, key, host
name or IP address. ``detail`` is what the operator reads on the key row and in the logs: the vendor's
fuller words, with URLs and keys masked. Errors built from a vendor's words come from
:meth:`UpstreamError.from_vendor` (``classify`` uses it), which makes both with ``core.redaction``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Self

from core.errors import GatewayError
from core.redaction import admin_text, client_text


class UpstreamError(GatewayError):
    """A vendor call failed. ``status`` and ``code`` are what the client sees if this ends the request.

    ``message`` is the client's text, ``detail`` the operator's (see the module). ``retry_after`` is the vendor's
    word on when to try this key again (the key loop bounds it); ``key_label`` names the key that met the
    failure (for the ledger), set by the key loop.
    """

    status = 502
    code = "upstream_error"
    error_type = "upstream_error"
    tries_next_key = True
    disables_key = False
    cools_key = False
    counts_as_failure = True

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        retry_after: float | None = None,
        vendor_status: int | None = None,
    ):
        super().__init__(message, detail=detail)
        self.retry_after = retry_after
        self.vendor_status = vendor_status
        self.key_label = ""
        self.key_labels: list[str] = []  # every key a failed request used, when it made several calls

    @classmethod
    def from_vendor(cls, words: str, *secrets: str, **kwargs) -> Self:
        """The error for a vendor's own ``words``: the client reads them cleaned and capped, the operator
        reads them whole (URLs and keys masked in both; ``secrets`` masked too)."""
        return cls(client_text(words, *secrets), detail=admin_text(words, *secrets), **kwargs)


class KeyRejected(UpstreamError):
    """The key is invalid, lacks permission, or its balance or quota is spent."""

    disables_key = True
    code = "upstream_key_rejected"


class RateLimited(UpstreamError):
    """The vendor asks us to slow down with this key."""

    cools_key = True
    code = "upstream_rate_limited"


class UpstreamUnavailable(UpstreamError):
    """Connect error, timeout before the request was sent, 5xx, vendor overloaded."""

    code = "upstream_unavailable"


class GenerationFailed(UpstreamError):
    """The vendor answered 2xx but the answer holds no image."""

    code = "upstream_no_image"


class UpstreamTimeout(UpstreamError):
    """The request reached the vendor but no answer came in time. Not resubmitted: it may be billed. It
    counts against the key all the same: a key that keeps hanging rests, like one that keeps failing."""

    status = 504
    code = "upstream_timeout"
    tries_next_key = False


class JobLost(UpstreamError):
    """A submitted job whose outcome cannot be read (the vendor refuses to report on it, or its answer
    makes no sense). Not resubmitted: the vendor may be generating, and billing, all the same."""

    status = 502
    code = "upstream_job_lost"
    tries_next_key = False


class BadRequest(UpstreamError):
    """The vendor refused the request itself; another key would get the same answer."""

    status = 400
    code = "upstream_bad_request"
    error_type = "invalid_request_error"
    tries_next_key = False
    counts_as_failure = False


class ContentPolicy(UpstreamError):
    """The vendor's moderation refused the prompt or the image."""

    status = 400
    code = "content_policy_violation"
    error_type = "invalid_request_error"
    tries_next_key = False
    counts_as_failure = False


class NoAvailableKey(UpstreamError):
    """Every key of the vendor is disabled or cooling down; nothing was sent."""

    status = 503
    code = "no_available_key"
    tries_next_key = False
    counts_as_failure = False


class AllKeysFailed(UpstreamError):
    """Every key that was tried failed with an error worth trying elsewhere; ``last`` is the last failure.
    ``retry_after``: when every key of the vendor rests now, seconds until the first is back (the key loop)."""

    status = 502
    code = "upstream_error"
    tries_next_key = False
    counts_as_failure = False

    def __init__(self, message: str, *, last: UpstreamError, detail: str | None = None):
        super().__init__(message, detail=detail)
        self.last = last
        self.key_label = last.key_label


# --- the shared words and codes (codes lower-cased) ----------------------------------------------------
MODERATION_CODES = frozenset(
    # "moderation" is what the readers report for OpenRouter's moderation metadata
    {"content_policy_violation", "moderation_blocked", "content_filter", "image_safety", "moderation"}
)
MODERATION_WORDS = (
    *("content policy", "content_policy", "moderation", "flagged", "safety system", "nsfw", "sensitive"),
    *("敏感", "违规"),
)
KEY_CODES = frozenset(
    {"invalid_api_key", "api_key_invalid", "account_deactivated", "permission_denied", "unauthenticated"}
)
KEY_WORDS = (
    *("invalid api key", "incorrect api key", "api key not valid", "api key is invalid", "invalid token"),
    *("token is invalid", "permission denied", "unauthorized", "unauthenticated", "authentication fail"),
)
BALANCE_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
BALANCE_WORDS = (
    *("insufficient balance", "insufficient credit", "balance is insufficient", "not enough credit"),
    *("exhausted balance", "余额", "额度"),
)


def mentions_moderation(text: str, codes: frozenset[str] = frozenset()) -> bool:
    return bool(codes & MODERATION_CODES) or _says(text, MODERATION_WORDS)


def mentions_bad_key(text: str, codes: frozenset[str] = frozenset()) -> bool:
    return bool(codes & KEY_CODES) or _says(text, KEY_WORDS)


def mentions_no_balance(text: str, codes: frozenset[str] = frozenset()) -> bool:
    return bool(codes & BALANCE_CODES) or _says(text, BALANCE_WORDS)


def _says(text: str, words: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in words)


# --- facts, table, decision ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorFacts:
    """What an adapter read from one failed answer.

    ``status`` is the HTTP status (or the one an error inside a 200 names); ``message`` the vendor's words,
    scrubbed; ``codes`` the machine codes of the body and headers, lower-cased; ``retry_after`` the seconds
    the vendor asked us to wait; ``foreign`` that the body is not in the vendor's own error format (a
    proxy's or CDN's page), for kinds that know their format."""

    status: int
    message: str
    codes: frozenset[str] = frozenset()
    retry_after: float | None = None
    foreign: bool = False


Meaning = int | type[UpstreamError]  # an error class, or the HTTP status a vendor code really means


@dataclass(frozen=True)
class ErrorTable:
    """How one kind's errors differ from the common order (see the module docstring).

    ``codes``: vendor code (a ``fnmatch`` pattern, lower-case) -> its meaning, looked at first, in the
    order declared. ``forbidden``: what a 403 nothing else explains is. ``foreign_forbidden``: the same
    for a 403 whose body is not the vendor's (a WAF's or CDN's page: it says nothing of the key or the
    prompt). ``not_found_hint``: leads a 404's message. ``min_rate_limit``: a 429's shortest cooldown (s)."""

    codes: Mapping[str, Meaning] = field(default_factory=dict)
    forbidden: type[UpstreamError] = KeyRejected
    foreign_forbidden: type[UpstreamError] = UpstreamUnavailable
    not_found_hint: str = ""
    min_rate_limit: float = 0.0

    def meaning(self, codes: frozenset[str]) -> Meaning | None:
        """What the first declared code found among ``codes`` means, if any is."""
        for pattern, meant in self.codes.items():
            if any(fnmatchcase(code, pattern) for code in codes):
                return meant
        return None


def classify(facts: ErrorFacts, table: ErrorTable) -> UpstreamError:
    """The error class for a failed answer, decided in the one order of the module docstring."""
    meant = table.meaning(facts.codes)
    status = meant if isinstance(meant, int) else facts.status
    cls = meant if isinstance(meant, type) else _by_status(status, facts, table)
    message = facts.message
    if cls is BadRequest and status == 404 and table.not_found_hint:
        message = f"{table.not_found_hint}: {message}"
    if cls is RateLimited:
        wait = facts.retry_after
        if table.min_rate_limit:
            wait = max(wait or 0.0, table.min_rate_limit)
        return RateLimited.from_vendor(message, retry_after=wait, vendor_status=facts.status)
    return cls.from_vendor(message, vendor_status=facts.status)


def _by_status(status: int, facts: ErrorFacts, table: ErrorTable) -> type[UpstreamError]:
    text, codes = facts.message, facts.codes
    if status == 429:
        return KeyRejected if mentions_no_balance(text, codes) else RateLimited
    if status == 408 or status >= 500:
        return UpstreamUnavailable
    if status in (401, 402):
        return KeyRejected
    if mentions_moderation(text, codes):
        return ContentPolicy
    if mentions_bad_key(text, codes) or mentions_no_balance(text, codes):
        return KeyRejected
    if status == 403:
        return table.foreign_forbidden if facts.foreign else table.forbidden
    if status < 400:
        return GenerationFailed
    return BadRequest
