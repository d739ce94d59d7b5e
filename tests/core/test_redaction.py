import logging

from core.redaction import RedactingFilter, mask, scrub


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
