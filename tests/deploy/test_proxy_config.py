"""docker/nginx.conf.template, rendered as the nginx image renders it, in front of a real gateway: it
proxies, and the errors nginx answers itself (a body or a header over the gateway's limits, no replica
to answer) have OpenAI's shape. Needs an nginx binary on this machine (skipped without one); the
`resolve` flag of nginx 1.27.3+ is left out so an older nginx can run it, with the replica's address."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.gateway_process import ROOT, GatewayProcess, free_port

pytestmark = pytest.mark.e2e
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
BODY_CAP = 4096
EDIT_CAP = 4 * BODY_CAP


def render(template: str, *, listen: int, upstream: int) -> str:
    """What the nginx image's envsubst step makes of the template, pointed at a local replica."""
    text = template.replace("${MAX_REQUEST_BYTES}", str(BODY_CAP)).replace("${MAX_HEADER_BYTES}", "8192")
    text = text.replace("${MAX_EDIT_REQUEST_BYTES}", str(EDIT_CAP))
    text = text.replace("server gateway:8000 resolve;", f"server 127.0.0.1:{upstream};")
    return text.replace("resolver 127.0.0.11 valid=5s ipv6=off;", "").replace(
        "listen 80;", f"listen 127.0.0.1:{listen};"
    )


class Proxy:
    def __init__(self, folder: Path, upstream: int):
        self.folder, self.port = folder, free_port()
        folder.mkdir()
        site = render((ROOT / "docker" / "nginx.conf.template").read_text(), listen=self.port, upstream=upstream)
        (folder / "site.conf").write_text(site)
        temp = " ".join(
            f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (folder / "nginx.conf").write_text(
            f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\nevents {{}}\n"
            f"http {{ access_log off; {temp} include {folder / 'site.conf'}; }}\n"
        )
        command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read()
            try:
                if httpx.get(self.url + "/proxy-health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("nginx did not answer in 30 s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.process.stderr.close()


@pytest.fixture
def gateway_behind_proxy(tmp_path):
    if NGINX is None:
        pytest.skip("no nginx on this machine")
    gateway = GatewayProcess(tmp_path / "gateway", {"MAX_REQUEST_BYTES": str(BODY_CAP)}).start()
    proxy = None
    try:
        proxy = Proxy(tmp_path / "nginx", gateway.port)
        yield gateway, proxy
    finally:
        if proxy is not None:
            proxy.stop()
        gateway.stop()


def assert_openai_error(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code and set(error) == {"message", "type", "param", "code"}


def test_the_proxy_serves_the_gateway_and_answers_its_own_refusals_in_openai_shape(gateway_behind_proxy):
    gateway, proxy = gateway_behind_proxy
    health = httpx.get(proxy.url + "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    unauthorized = httpx.post(proxy.url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert_openai_error(unauthorized, 401, unauthorized.json()["error"]["code"])  # the gateway's, passed on

    too_large = httpx.post(proxy.url + "/v1/chat/completions", content=b"x" * (BODY_CAP + 1))
    assert_openai_error(too_large, 413, "request_too_large")
    edit = httpx.post(proxy.url + "/v1/images/edits", files={"image": ("a.png", b"x" * (2 * BODY_CAP))})
    assert edit.status_code == 401  # an edit's images pass the proxy: the gateway itself answered
    too_large_edit = httpx.post(proxy.url + "/v1/images/edits", files={"image": ("a.png", b"x" * EDIT_CAP)})
    assert_openai_error(too_large_edit, 413, "request_too_large")
    header_too_large = httpx.get(proxy.url + "/health", headers={"X-Padding": "x" * 9000})
    assert_openai_error(header_too_large, 431, "request_header_too_large")

    gateway.stop()
    no_replica = httpx.get(proxy.url + "/v1/models")
    assert_openai_error(no_replica, 503, "service_unavailable")
    assert no_replica.headers["retry-after"] == "5"
