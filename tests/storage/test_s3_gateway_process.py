"""The gateway as an operator runs it with IMAGE_STORAGE=s3: a real gateway process (uvicorn, aiohttp
transport), its settings from the environment, a real S3 server, HTTP all the way."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-s3-client-key-7777"
VENDOR_KEY = "sk-sf-s3-e2e-1111"
PICTURE = png_bytes(48, 32, (20, 90, 200))
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


@pytest.fixture(scope="module")
def vendor():
    with SiliconFlowFake(image=PICTURE) as fake:
        yield fake


@pytest.fixture(scope="module")
def bucket(s3_server) -> str:
    return s3_server.make_bucket()


@pytest.fixture(scope="module")
def gateway(vendor, s3_server, bucket, tmp_path_factory):
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": vendor.url + "/v1/images/generations",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": VENDOR_KEY,
        **s3_server.gateway_env(bucket, AWS_LOCATION="gateway-e2e"),
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env) as process:
        yield process
        log = process.log()
    for secret in (s3_server.secret_key, VENDOR_KEY, CLIENT_KEY):
        assert secret not in log, "a secret reached the gateway's log"
    assert "X-Amz-Signature" not in log


def chat(gateway: GatewayProcess) -> str:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "flux-schnell", "messages": [{"role": "user", "content": "a blue square"}]},
        headers={"Authorization": f"Bearer {CLIENT_KEY}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return IMAGE_LINK.search(response.json()["choices"][0]["message"]["content"])["url"]


def test_a_chat_image_is_an_object_in_the_bucket_served_through_the_gateway(gateway, s3_server, bucket):
    url = chat(gateway)

    sha = hashlib.sha256(PICTURE).hexdigest()
    key = f"gateway-e2e/images/{sha[:2]}/{sha}.png"
    found = s3_server.client().head_object(Bucket=bucket, Key=key)
    assert (found["CacheControl"], found["ContentType"]) == ("public, max-age=31536000, immutable", "image/png")
    assert url.startswith(gateway.url + "/images/")
    served = httpx.get(url, timeout=30)
    assert served.status_code == 200 and served.content == PICTURE
    assert served.headers["etag"] == f'"{sha}"'
    assert httpx.get(url, headers={"If-None-Match": f'"{sha}"'}, timeout=30).status_code == 304
    assert httpx.get(gateway.url + "/health/ready", timeout=30).json()["checks"]["storage"] == "ok"


def test_purge_images_with_the_gateways_environment_deletes_the_object(gateway, s3_server, bucket):
    url = chat(gateway)
    key = next(k for k in s3_server.object_keys(bucket) if k.startswith("gateway-e2e/images/"))

    result = gateway.manage("purge_images", "--older-than", "0")

    assert result.returncode == 0, result.stderr
    with pytest.raises(ClientError):
        s3_server.client().head_object(Bucket=bucket, Key=key)
    assert httpx.get(url, timeout=30).status_code == 410
