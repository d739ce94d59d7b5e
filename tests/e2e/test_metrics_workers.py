"""/metrics under `make run`'s shape: two gunicorn workers, each counting in its own files, one scrape that adds
them up; and LOG_FORMAT=json, where every line the gateway writes is one JSON object."""

from __future__ import annotations

import json
from http.client import HTTPConnection

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.asgi_client import samples, value
from tests.e2e.test_idempotency_workers import one_connection_per_worker
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-metrics-client-7777"
TOKEN = "e2e-metrics-token-8888"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    env = {"AUTHORIZED_API_KEY": CLIENT_KEY, "METRICS_TOKEN": TOKEN, "LOG_FORMAT": "json", "REDIS_URL": ""}
    with GatewayProcess(tmp_path_factory.mktemp("metrics"), env, workers=2, server="gunicorn") as process:
        yield process


def list_models(conn: HTTPConnection, times: int) -> None:
    for _ in range(times):  # one keep-alive connection: every request is served by the worker holding it
        conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    conn.close()


def models_counted_in(path) -> float:
    """What one process wrote for GET /v1/models answered 200, read from its own file."""
    return sum(
        count
        for key, count, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path))
        if json.loads(key)[1] == "imagegen_requests_total"
        and json.loads(key)[2] == {"endpoint": "models", "model": "", "status": "200"}
    )


def test_the_metrics_of_two_workers_add_up_in_one_scrape(gateway):
    first, second = one_connection_per_worker(gateway)
    list_models(first, 3)
    list_models(second, 2)

    scrape = httpx.get(gateway.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert scrape.status_code == 200
    per_process = sorted(models_counted_in(path) for path in (gateway.data_dir / "metrics").glob("counter_*.db"))
    assert [count for count in per_process if count] == [2, 3]
    assert value(samples(scrape.text), "imagegen_requests_total", endpoint="models", model="", status="200") == 5
    assert httpx.get(gateway.url + "/metrics").status_code == 401


def test_every_log_line_is_json_and_names_its_request(gateway):
    response = httpx.get(gateway.url + "/v1/no-such-path", headers={"X-Request-ID": "e2e-trace-404"})

    assert response.headers["X-Request-ID"] == "e2e-trace-404"
    lines = [line for line in gateway.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line: gunicorn's, uvicorn's, Django's
    assert any(entry["logger"] == "gunicorn.error" for entry in entries)
    assert [entry["request_id"] for entry in entries if "no-such-path" in entry["message"]] == ["e2e-trace-404"]
