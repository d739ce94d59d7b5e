"""An S3-compatible server for tests: moto's server in a subprocess on a free 127.0.0.1 port.

A real HTTP server (the gateway and boto3 reach it over the loopback, as they would a real bucket), started
and stopped by the tests. Use it as a context manager, or ``start()``/``stop()``::

    with S3Server() as s3:
        bucket = s3.make_bucket()
        gateway = GatewayProcess(tmp_path, env=s3.gateway_env(bucket))

Its credentials are made up per server: the secret is unique, so a test can look for it in answers and logs.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time

import boto3
import httpx
from botocore.config import Config

from tests.gateway_process import free_port

START_SECONDS = 30.0


class S3Server:
    region = "us-east-1"

    def __init__(self) -> None:
        self.port = free_port()
        self.access_key = "AKIATEST" + secrets.token_hex(6).upper()
        self.secret_key = "s3-test-secret-" + secrets.token_hex(16)
        self.process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's S3 server exited at start (code {self.process.returncode})")
            try:
                httpx.get(self.endpoint_url + "/moto-api/", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto's S3 server did not answer within {START_SECONDS:.0f}s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def client(self):
        """A boto3 S3 client on this server, with its credentials (path-style, as moto wants on 127.0.0.1)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def make_bucket(self, name: str | None = None) -> str:
        """A new empty bucket (a fresh random name unless given); its name."""
        name = name or "test-" + secrets.token_hex(6)
        self.client().create_bucket(Bucket=name)
        return name

    def gateway_env(self, bucket: str, **extra: str) -> dict[str, str]:
        """The environment that points a gateway's image storage at ``bucket`` on this server."""
        return {
            "IMAGE_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_S3_ADDRESSING_STYLE": "path",
            **extra,
        }

    def object_keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return [entry["Key"] for entry in listing.get("Contents", [])]
