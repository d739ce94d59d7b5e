"""What one client can hold of a worker, against gunicorn as `make run` starts it, with real sockets.

A connection that trickles its headers (slow loris), sends nothing, trickles its body or sends huge headers
is answered or closed within its limit while other clients are served; a worker at its connection limit
answers in OpenAI's shape; idle keep-alive connections are closed; and X-Forwarded-For is believed only
from the proxies FORWARDED_ALLOW_IPS names.
"""

from __future__ import annotations

import json
import secrets
import socket
import time

import httpx
import pytest

from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

LIMITS = {
    "HEADER_READ_TIMEOUT": "2",
    "BODY_READ_TIMEOUT": "2",
    "KEEPALIVE_TIMEOUT": "4",
    "MAX_HEADER_BYTES": "8192",
    "MAX_CONNECTIONS_PER_WORKER": "12",
    "GUNICORN_CMD_ARGS": "--access-logfile -",  # as make run: the client address is in the access log
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    # FORWARDED_ALLOW_IPS is left unset: the default must trust no proxy (uvicorn's own trusts 127.0.0.1).
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), LIMITS, server="gunicorn") as process:
        yield process


def connect(gateway) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    sock.settimeout(0.2)
    return sock


def closed_by_server(sock: socket.socket) -> tuple[bool, bytes]:
    """Whether the server closed the connection (reading to its end), and what it said first."""
    said = b""
    try:
        while chunk := sock.recv(65536):
            said += chunk
    except TimeoutError:
        return False, said
    except ConnectionResetError:
        pass
    return True, said


def trickle_until_closed(sock: socket.socket, data: bytes, every: float = 0.5, limit: float = 15.0) -> float:
    """Send ``data`` a byte at a time; seconds until the server closed the connection."""
    started = time.monotonic()
    for byte in data:
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
        time.sleep(every)
        if closed_by_server(sock)[0] or time.monotonic() - started > limit:
            return time.monotonic() - started
    raise AssertionError("the data ran out before the server closed the connection")


def error_of(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def test_a_slow_loris_is_closed_within_the_header_time_while_others_are_served(gateway):
    sock = connect(gateway)
    sock.send(b"GET /health HTTP/1.1\r\nHost: gw\r\n")
    served_meanwhile = httpx.get(gateway.url + "/health", timeout=5).status_code

    held_for = trickle_until_closed(sock, b"X-Trickle: " + b"a" * 60)

    assert served_meanwhile == 200
    assert held_for < 2 + 1.5  # HEADER_READ_TIMEOUT, not as long as the client cares to trickle


def test_a_connection_that_never_sends_a_request_is_answered_408_and_closed(gateway):
    sock = connect(gateway)
    sock.settimeout(4)

    closed, said = closed_by_server(sock)

    assert closed
    status, error = error_of(said)
    assert (status, error["code"], error["type"]) == (408, "request_timeout", "invalid_request_error")


def test_headers_over_the_size_limit_are_answered_431_in_openais_shape(gateway):
    sock = connect(gateway)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    sock.settimeout(3)

    closed, said = closed_by_server(sock)

    assert closed
    status, error = error_of(said)
    assert (status, error["code"], error["param"]) == (431, "request_header_too_large", None)
    assert httpx.get(gateway.url + "/health", headers={"X-Small": "a" * 2000}).status_code == 200


def test_a_body_that_trickles_is_cut_off_within_the_body_time(gateway):
    sock = connect(gateway)
    sock.send(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer nobody\r\nContent-Length: 200\r\n\r\n"
    )

    held_for = trickle_until_closed(sock, b"{" + b" " * 199)

    assert held_for < 2 + 1.5


def test_a_worker_at_its_connection_limit_answers_503_in_openais_shape_and_recovers(gateway):
    held = [connect(gateway) for _ in range(12)]
    time.sleep(0.3)
    try:
        busy = httpx.get(gateway.url + "/health", timeout=5)
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)

    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "server_busy" and busy.json()["error"]["type"] == "server_error"
    assert httpx.get(gateway.url + "/health", timeout=5).status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_time(gateway):
    sock = connect(gateway)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n")
    time.sleep(0.3)
    assert b" 200 " in sock.recv(65536)
    time.sleep(2.5)
    still_open, _ = closed_by_server(sock)
    sock.settimeout(4)

    closed, _ = closed_by_server(sock)

    assert not still_open and closed  # kept for KEEPALIVE_TIMEOUT (4 s), then closed


def probe_log_line(gateway, forged: str) -> str:
    probe = secrets.token_hex(6)
    # In the path: the access log masks query values (core/logs.py), paths it prints as they are.
    httpx.get(f"{gateway.url}/probe-{probe}", headers={"X-Forwarded-For": forged})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in gateway.log().splitlines() if f'"GET /probe-{probe}' in line]
        if lines:
            return lines[0]
        time.sleep(0.1)
    raise AssertionError("no access log line for the probe")


def test_a_forged_x_forwarded_for_from_an_untrusted_peer_does_not_change_the_client_address(gateway):
    line = probe_log_line(gateway, "203.0.113.66")

    assert "127.0.0.1:" in line and "203.0.113.66" not in line


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path):
    with GatewayProcess(tmp_path, {**LIMITS, "FORWARDED_ALLOW_IPS": "127.0.0.1"}, server="gunicorn") as trusting:
        line = probe_log_line(trusting, "203.0.113.66")

    assert "203.0.113.66" in line
