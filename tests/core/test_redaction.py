import logging

import pytest

from core.redaction import (
    ADMIN_TEXT_LIMIT,
    CLIENT_TEXT_LIMIT,
    RedactingFilter,
    admin_text,
    client_text,
    mask,
    masked_host,
    scrub,
)


def test_mask_keeps_only_the_last_four_characters():
    assert mask("sk-abcdefgh1234") == "…1234"
    assert mask("") == ""


def test_scrub_removes_urls_known_secrets_and_key_shaped_tokens():
    text = "Incorrect API key provided: sk-live-0123456789abcdef at https://api.vendor.example/v1?sig=x for plain42"
    cleaned = scrub(text, "plain42")
    assert "https://" not in cleaned and "api.vendor.example" not in cleaned
    assert "sk-live-0123456789abcdef" not in cleaned and "…cdef" in cleaned
    assert "plain42" not in cleaned


def test_log_messages_and_tracebacks_are_scrubbed():
    record_output = []

    class Collect(logging.Handler):
        def emit(self, record):
            record_output.append(self.format(record))

    logger = logging.getLogger("tests.redaction")
    handler = Collect()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("fetch of https://cdn.vendor.example/img.png?token=abc failed")
        except RuntimeError:
            logger.exception("calling %s with Bearer sk-secret-key-99999999", "https://api.vendor.example/v1")
    finally:
        logger.removeHandler(handler)
    (output,) = record_output
    assert "vendor.example" not in output
    assert "sk-secret-key-99999999" not in output
    assert "RuntimeError" in output


# --- vendor words for clients and for operators ----------------------------------------------------------

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    "\r\n<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n"
)
CLOUDFLARE_502 = (
    "<!DOCTYPE html><html><head><title>api.vendor.com | 502: Bad gateway</title><style>body{color:red}</style>"
    "<script>var ray='8b1d';</script></head><body><h1>Bad gateway</h1><p>Your IP: 203.0.113.9</p></body></html>"
)


@pytest.mark.parametrize(
    ("vendor_said", "client_reads"),
    [
        (NGINX_502, "502 Bad Gateway"),
        (CLOUDFLARE_502, "[host] | 502: Bad gateway"),
        ("<p>Service &amp; model <b>unavailable</b></p>", "Service & model unavailable"),
        (
            "upstream connect error to 10.0.3.7:8080 via [fd00::12]:443",
            "upstream connect error to [address] via [address]",
        ),
        ("backend gpu-7.svc.cluster.local and redis.internal:6379 are down", "backend [host] and [host] are down"),
        ("proxy at localhost:8080 and api.example.com. refused", "proxy at [host] and [host]. refused"),
        ("e.g. v1.2 of Node.js; FLUX.1-dev, sd3.5-large, i.e. U.S. at 10:30 in 16:9", None),
        ("width must be < 2048; put /accounts/<account id> in the base URL", None),
        ("red \x1b[31mALERT\x1b[0m\nsecond line\x85third\u2028fourth", "red ALERT second line third fourth"),
    ],
)
def test_a_client_reads_vendor_words_without_html_addresses_or_host_names(vendor_said, client_reads):
    assert client_text(vendor_said) == (vendor_said if client_reads is None else client_reads)


def test_an_operator_reads_the_same_words_with_addresses_and_host_names_kept():
    said = "upstream connect error to 10.0.3.7:8080 (backend-7.svc.cluster.local) at https://x.example/a?sig=1"

    assert admin_text(said) == "upstream connect error to 10.0.3.7:8080 (backend-7.svc.cluster.local) at [url]"
    assert admin_text(CLOUDFLARE_502) == "api.vendor.com | 502: Bad gateway"


def test_the_client_text_is_capped_and_the_operators_keeps_more():
    said = "the model could not run: " + "out of memory on the device " * 100

    client, admin = client_text(said), admin_text(said)

    assert len(client) <= CLIENT_TEXT_LIMIT and client.endswith("…")
    assert CLIENT_TEXT_LIMIT < len(admin) <= ADMIN_TEXT_LIMIT and admin.startswith(client[:-1])


def test_keys_are_masked_in_both_texts():
    said = "key sk-live-0123456789abcdef and plain42 rejected"

    for text in (client_text(said, "plain42"), admin_text(said, "plain42")):
        assert "sk-live-0123456789abcdef" not in text and "plain42" not in text and "…cdef" in text


@pytest.mark.parametrize(
    ("host", "masked"),
    [
        ("api.bfl.ai", "a*.b*.ai"),
        ("cdn.vendor.co.uk", "c*.v*.co.uk"),
        ("redis.vendor.internal", "r*.v*.i*"),
        ("10.1.2.3", "10.*.*.*"),
        ("[fd00::1]", "fd00:*"),
    ],
)
def test_a_masked_host_says_roughly_where_and_not_where(host, masked):
    assert masked_host(host) == masked


# --- log lines ---------------------------------------------------------------------------------------------


def record(msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("tests", logging.WARNING, __file__, 1, msg, args, None)


def test_the_values_of_a_log_line_cannot_break_or_recolour_it():
    entry = record("client %s asked for %s", "1.2.3.4\nFAKE LINE\x1b[31m", "a\x85b\u2028c\u202eevil")

    RedactingFilter().filter(entry)

    line = entry.getMessage()
    assert line.splitlines() == [line]
    assert "\x1b" not in line and "\\n" in line and "\\x1b" in line and "\\u202e" in line


def test_redacted_values_keep_the_shape_formatters_read():
    entry = record('%s - "%s %s HTTP/%s" %d', "1.2.3.4:0", "GET", "/v1/models?key=sk-live-0123456789abcdef", "1.1", 200)

    RedactingFilter().filter(entry)

    assert isinstance(entry.args, tuple) and len(entry.args) == 5 and entry.args[4] == 200
    assert "sk-live-0123456789abcdef" not in entry.getMessage()
