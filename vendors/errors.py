"""The upstream error tree. Adapters map vendor answers onto it; the key loop acts on its flags.

| class               | key                         | request                                  |
|---------------------|-----------------------------|------------------------------------------|
| KeyRejected         | auto-disabled               | next key                                 |
| RateLimited         | cooldown (Retry-After)      | next key                                 |
| UpstreamUnavailable | cooldown after N in a row   | next key                                 |
| GenerationFailed    | none                        | next key (a new attempt may succeed)     |
| UpstreamTimeout     | none                        | stop: the vendor may already have billed |
| JobLost             | failure count               | stop: a polled job's outcome is unknown  |
| BadRequest          | none                        | stop, 400 with the vendor's reason       |
| ContentPolicy       | none                        | stop, 400 with the vendor's reason       |

Messages are shown to clients, so adapters build them from vendor text through
``core.redaction.scrub``: no key, no URL.
"""

from __future__ import annotations

from core.errors import GatewayError


class UpstreamError(GatewayError):
    """A vendor call failed. ``status`` and ``code`` are what the client sees if this ends the request.

    ``retry_after`` is the vendor's word on when to try this key again; ``key_label`` names the key
    that met the failure (for the ledger), set by the key loop.
    """

    status = 502
    code = "upstream_error"
    error_type = "upstream_error"
    tries_next_key = True
    disables_key = False
    cools_key = False
    counts_as_failure = True

    def __init__(self, message: str, *, retry_after: float | None = None, vendor_status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.vendor_status = vendor_status
        self.key_label = ""
        self.key_labels: list[str] = []  # every key a failed request used, when it made several calls


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
    """The request reached the vendor but no answer came in time. Not resubmitted: it may be billed."""

    status = 504
    code = "upstream_timeout"
    tries_next_key = False
    counts_as_failure = False


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
    """Every key that was tried failed with an error worth trying elsewhere; ``last`` is the last failure."""

    status = 502
    code = "upstream_error"
    tries_next_key = False
    counts_as_failure = False

    def __init__(self, message: str, *, last: UpstreamError):
        super().__init__(message)
        self.last = last
        self.key_label = last.key_label


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; an HTTP date counts as unknown)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
