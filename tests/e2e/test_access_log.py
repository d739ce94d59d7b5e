"""The access log of the real gateway under gunicorn, as ``make run`` writes it (``--access-logfile -``):
a key in a query string is masked, and a forged ``X-Forwarded-For`` can neither forge a line nor be printed
as the client's address."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-access-log-client-key-9f3a"
FORGED = '203.0.113.66 - "GET /admin/ HTTP/1.1" 200'  # what a forged line would say


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "GUNICORN_CMD_ARGS": "--access-logfile -",  # make run's flag
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the test client is the trusted proxy: its X-Forwarded-For is read
    }
    with GatewayProcess(tmp_path_factory.mktemp("access-log"), env, server="gunicorn") as process:
        yield process


def raw_request(gateway: GatewayProcess, path: str, forwarded_for: bytes) -> bytes:
    """One request written byte by byte, as an attacker would (no client library would send these headers)."""
    head = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {CLIENT_KEY}\r\n".encode()
        + b"X-Forwarded-For: "
        + forwarded_for
        + b"\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
        connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def access_lines(gateway: GatewayProcess, marker: str) -> list[str]:
    """The log's lines (split at every line break a reader may honour) that mention ``marker``."""
    deadline = time.monotonic() + 10
    while True:
        text = gateway.log_path.read_bytes().decode("utf-8", "replace")
        found = [line for line in text.splitlines() if marker in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_key_in_the_query_and_a_forged_forwarded_for_are_logged_safely(gateway):
    forged = b"1.2.3.4\x85" + FORGED.encode() + b"\xe2\x80\xa8\x9b31m"  # NEL, a line separator, an 8-bit CSI

    answer = raw_request(gateway, f"/v1/models?key={CLIENT_KEY}&probe=alpha", forged)

    assert answer.startswith(b"HTTP/1.1 200")
    [line] = access_lines(gateway, "probe=…lpha")
    # The forged address is refused as the client; were proxy headers not trusted, the peer would be printed.
    # The line ends with the request's id (one made: the request sent none).
    assert re.fullmatch(
        r'(\[not an address\]|127\.0\.0\.1:\d+) - "GET /v1/models\?key=…9f3a&probe=…lpha HTTP/1\.1" 200'
        r" req_[0-9a-f]{20}",
        line,
    )
    log = gateway.log()
    assert CLIENT_KEY not in log
    assert not any(line.startswith("203.0.113.66") for line in log.splitlines())
    assert not any(character in log for character in "\x85\x9b\u2028\x1b")


def test_a_forwarded_for_with_a_raw_newline_is_refused_and_forges_no_line(gateway):
    answer = raw_request(gateway, "/v1/models?probe=bravo", b"1.2.3.4\n" + FORGED.encode())

    assert answer.startswith(b"HTTP/1.1 400")
    assert not any(line.startswith("203.0.113.66") for line in gateway.log().splitlines())


def test_an_address_from_a_trusted_proxy_is_the_client_in_the_access_line(gateway):
    raw_request(gateway, "/v1/models?probe=charlie", b"198.51.100.7")

    [line] = access_lines(gateway, "probe=…rlie")
    assert line.startswith('198.51.100.7:0 - "GET /v1/models?probe=…rlie HTTP/1.1" 200')
