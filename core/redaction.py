"""Keeping secrets and upstream addresses out of responses, error messages and logs.

Vendor keys, client keys and upstream URLs must never be shown. Text from outside (a vendor's error
message or error page) becomes one of two texts:

- :func:`client_text`, what a client reads: the page's headline instead of its HTML, no URL, no key, no
  IP address, no host name, one line, at most ``CLIENT_TEXT_LIMIT`` characters;
- :func:`admin_text`, what an operator reads on the key row and in the ledger: the same words with
  host names and addresses kept (they help find the broken proxy), still no URL and no key, at most
  ``ADMIN_TEXT_LIMIT`` characters.

Every log record goes through :class:`RedactingFilter` as a last line of defence: URLs and keys are
scrubbed, and the values put into a line cannot break it (control characters are escaped).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from html.parser import HTMLParser

from core.domains import is_top_level_domain, registrable_domain

CLIENT_TEXT_LIMIT = 200
ADMIN_TEXT_LIMIT = 1000
PAGE_LIMIT = 20_000  # an error page can be megabytes; its headline and first words are near the top

URL_RE = re.compile(r"\b(?:https?|wss?|ftp)://[^\s\"'<>)\]]+", re.IGNORECASE)
# Bearer tokens and the key shapes vendors hand out (sk-…, r8_…, xai-…, long opaque tokens).
TOKEN_RE = re.compile(
    r"(?:(?<=Bearer )|(?<=Key )|(?<=x-key: ))\S+"
    r"|\b(?:sk|pk|rk|r8|xai|key|fal|hf)[-_][A-Za-z0-9_\-*.]{6,}"
    r"|\b[A-Za-z0-9_\-]{32,}\b",
)
# Only a tag HTML pages use counts as markup: "<account id>" in a message is words, not a tag.
HTML_TAG = re.compile(
    r"<(?:!doctype|!--|/?(?:html|head|body|title|h[1-6]|p|div|span|center|pre|br|hr|a|b|i|em|strong|table"
    r"|tr|td|ul|li|script|style|meta|link|img|iframe|svg|form|input|code|noscript)\b)",
    re.IGNORECASE,
)
ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Characters that end, rewrite or reorder a line on a terminal or in a log viewer: C0 and C1 controls
# (NEL \x85 and CSI \x9b among them), the Unicode line and paragraph separators, and bidi overrides.
UNSAFE_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
IPV4_RE = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w]|\.\d)(?::\d{1,5}\b)?")
IPV6_RE = re.compile(r"(?<![\w:.])\[?([0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*(?:%[\w.-]+)?)(\]:\d{1,5}\b|\])?", re.I)
# A dotted name ending in a TLD the Public Suffix List knows or a suffix private networks use; so
# "api.example.com" is a host, while "e.g.", "v1.2", "Node.js" and "FLUX.1-dev" are words.
HOST_RE = re.compile(
    r"(?<![\w.-])(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+([a-z][a-z0-9-]{1,62})(?![\w-]|\.[a-z0-9])(?::\d{1,5}\b)?"
    r"|\blocalhost(?::\d{1,5}\b)?",
    re.IGNORECASE,
)
PRIVATE_SUFFIXES = frozenset(
    {"local", "localhost", "internal", "intranet", "lan", "localdomain", "home", "corp", "private", "svc"}
    | {"cluster", "consul", "test", "invalid", "example", "arpa"}
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


# --- text from outside, for clients and for operators ----------------------------------------------------
def client_text(text: str, *secrets: str, limit: int | None = CLIENT_TEXT_LIMIT) -> str:
    """``text`` as a client may read it: plain words, no URL, key, IP address or host name, capped."""
    return cap(hide_addresses(_plain_scrubbed(text, secrets)), limit)


def admin_text(text: str, *secrets: str, limit: int | None = ADMIN_TEXT_LIMIT) -> str:
    """``text`` as an operator reads it: plain words, host names kept, no URL or key, capped."""
    return cap(_plain_scrubbed(text, secrets), limit)


def _plain_scrubbed(text: str, secrets: tuple[str, ...]) -> str:
    # Cut before the regexes run, with a margin that keeps a URL or key near the cut whole for scrub.
    words = plain_words(text[:PAGE_LIMIT])[: ADMIN_TEXT_LIMIT * 4]
    return " ".join(scrub(words, *secrets).split())


def cap(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def plain_words(text: str) -> str:
    """An HTML page as its headline (title, else first heading) or else its visible text; any text on one
    line, without terminal escapes or control characters."""
    if HTML_TAG.search(text):
        page = _PageText()
        page.feed(text)
        page.close()
        text = page.headline or " ".join(page.parts)
    text = UNSAFE_RE.sub(" ", ANSI_RE.sub("", text))
    return " ".join(text.split())


class _PageText(HTMLParser):
    SKIPPED = frozenset({"script", "style", "noscript", "template"})
    HEADLINES = frozenset({"title", "h1", "h2"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.headline = ""
        self._skipping = 0
        self._heading: str | None = None
        self._heading_words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.HEADLINES and not self.headline and self._heading is None:
            self._heading, self._heading_words = tag, []
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag == self._heading:
            self.headline, self._heading = " ".join(" ".join(self._heading_words).split()), None
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        self.parts.append(data)
        if self._heading is not None:
            self._heading_words.append(data)


def hide_addresses(text: str) -> str:
    """IP addresses become ``[address]`` and host names ``[host]`` (with their ports)."""
    text = IPV6_RE.sub(_ipv6, text)
    text = IPV4_RE.sub(lambda m: "[address]" if _is_ip(m.group(1)) else m.group(0), text)
    return HOST_RE.sub(_host, text)


def _ipv6(match: re.Match) -> str:
    address = match.group(1).split("%", 1)[0]
    if address.count(":") < 2 or not _is_ip(address):
        return match.group(0)
    return "[address]"


def _host(match: re.Match) -> str:
    suffix = (match.group(1) or "localhost").lower()
    return "[host]" if suffix in PRIVATE_SUFFIXES or is_top_level_domain(suffix) else match.group(0)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def masked_host(host: str) -> str:
    """A host for a log line that says roughly where, not where: each label above the public suffix cut to its
    first letter (``api.bfl.ai`` -> ``a*.b*.ai``, ``cdn.internal.example`` -> ``c*.i*.e*``), an IPv4
    address to its first number (``10.*.*.*``), an IPv6 address to its first group (``fd00:*``)."""
    host = host.strip("[]").rstrip(".").lower()
    if _is_ip(host):
        return host.split(".", 1)[0] + ".*.*.*" if ":" not in host else host.split(":", 1)[0] + ":*"
    site = registrable_domain(host) or ""
    suffix = site.split(".", 1)[1] if "." in site else ""
    named = host[: -len(suffix) - 1] if suffix else host
    masked = ".".join(label[:1] + "*" for label in named.split(".") if label)
    return f"{masked}.{suffix}" if suffix else masked


# --- log records ---------------------------------------------------------------------------------------
def one_line(text: str) -> str:
    """``text`` with every character that could break or recolour a log line escaped (``\\n``, ``\\x1b``)."""
    return UNSAFE_RE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def _clean_value(value: object) -> object:
    if isinstance(value, BaseException):
        value = str(value)
    return one_line(scrub(value)) if isinstance(value, str) else value


_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Scrubs every log message and traceback; a leak in one call site is not a leak in the log.

    The values of a record (its ``args``) are scrubbed and put on one line in place, keeping their shape,
    so formatters that read the args (uvicorn's access formatter) still work; the formatted message is
    scrubbed again for URLs in the format string itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_clean_value(value) for value in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _clean_value(value) for name, value in record.args.items()}
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
