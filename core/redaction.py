"""Keeping secrets and upstream addresses out of responses, error messages and logs.

Vendor keys, client keys and upstream URLs must never be shown. Vendor error text is passed
through :func:`scrub` before it reaches a client or a log line, and every log record goes
through :class:`RedactingFilter` as a last line of defence.
"""

import logging
import re

URL_RE = re.compile(r"\b(?:https?|wss?|ftp)://[^\s\"'<>)\]]+", re.IGNORECASE)
# Bearer tokens and the key shapes vendors hand out (sk-…, r8_…, xai-…, long opaque tokens).
TOKEN_RE = re.compile(
    r"(?:(?<=Bearer )|(?<=Key )|(?<=x-key: ))\S+"
    r"|\b(?:sk|pk|rk|r8|xai|key|fal|hf)[-_][A-Za-z0-9_\-*.]{6,}"
    r"|\b[A-Za-z0-9_\-]{32,}\b",
)


def mask(secret: str) -> str:
    """Show only the last 4 characters of a secret: ``…abcd``."""
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) > 4 else "…"


def scrub(text: str, *secrets: str) -> str:
    """Remove URLs, known secrets and anything shaped like a key from text meant for people."""
    if not text:
        return ""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, mask(secret))
    text = URL_RE.sub("[url]", text)
    return TOKEN_RE.sub(lambda m: mask(m.group(0)), text)


_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Scrubs every log message and traceback; a leak in one call site is not a leak in the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; log it as it is
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Exception messages can quote URLs; formatters reuse exc_text once it is set.
            record.exc_text = scrub(_formatter.formatException(record.exc_info))
        return True
