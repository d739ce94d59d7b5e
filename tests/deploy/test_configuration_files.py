""".env.example documents every variable the settings read, and docker-compose.yml keeps the shape that
lets it scale: one published port (the proxy's), gateway replicas with health checks and no fixed port,
and no gateway variable the gateway would ignore."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.settings_reads import variables_the_settings_read
from tests.gateway_process import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NGINX = (ROOT / "docker" / "nginx.conf.template").read_text()
# Variables docker/entrypoint.sh reads itself (${NAME:-default}).
ENTRYPOINT_READS = set(re.findall(r"\$\{([A-Z_]+):-", (ROOT / "docker" / "entrypoint.sh").read_text()))


@pytest.fixture(scope="module")
def settings_read(tmp_path_factory) -> set[str]:
    names = variables_the_settings_read(tmp_path_factory.mktemp("settings-data"))
    assert {"DATABASE_URL", "SECRET_KEY", "DATABASE_POOL_SIZE", "AWS_S3_ENDPOINT_URL"} <= names  # both paths seen
    return names


def documented_in_env_example() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))


def test_env_example_documents_every_variable_the_settings_read(settings_read):
    missing = settings_read - documented_in_env_example()
    assert not missing, f".env.example lacks {sorted(missing)}: add each with a comment and its default"


def test_env_example_documents_the_variables_of_the_entrypoint():
    assert {"WEB_CONCURRENCY", "PORT", "PROBE_KEYS_EVERY", "PURGE_IMAGES_EVERY"} <= ENTRYPOINT_READS
    assert not ENTRYPOINT_READS - documented_in_env_example()


def test_the_proxy_is_the_only_service_that_publishes_a_port():
    publishing = sorted(name for name, service in SERVICES.items() if service.get("ports"))
    assert publishing == ["proxy"]
    assert len(SERVICES["proxy"]["ports"]) == 1


def test_the_gateway_scales_it_is_built_here_with_no_fixed_port_no_source_mount_and_a_health_check():
    gateway = SERVICES["gateway"]
    assert gateway["build"] == "." and "ports" not in gateway and "container_name" not in gateway
    assert not [volume for volume in gateway.get("volumes", []) if str(volume).startswith((".", "/"))]
    assert "/health" in " ".join(gateway["healthcheck"]["test"])
    # A .env written for `make run` (BIND=127.0.0.1, another PORT) must not move it off the proxy's address.
    assert gateway["environment"]["BIND"] == "0.0.0.0" and f":{gateway['environment']['PORT']}" in NGINX


def test_every_service_has_a_health_check_except_the_one_shot_bucket_creation():
    without = sorted(name for name, service in SERVICES.items() if "healthcheck" not in service)
    assert without == ["bucket"]
    assert SERVICES["gateway"]["depends_on"]["bucket"]["condition"] == "service_completed_successfully"


def test_services_wait_for_the_health_of_what_they_need():
    def waits_for(service: str) -> dict[str, str]:
        return {name: rule["condition"] for name, rule in SERVICES[service]["depends_on"].items()}

    assert waits_for("proxy") == {"gateway": "service_healthy"}
    assert {"db": "service_healthy", "redis": "service_healthy"}.items() <= waits_for("gateway").items()
    assert waits_for("sidecar") == {"gateway": "service_healthy"}  # the gateway migrated the database
    assert waits_for("bucket") == {"minio": "service_healthy"}


def test_every_gateway_variable_in_compose_is_one_the_gateway_reads(settings_read):
    for service in ("gateway", "sidecar"):
        unread = set(SERVICES[service]["environment"]) - settings_read - ENTRYPOINT_READS
        assert not unread, f"{service} sets {sorted(unread)}, which nothing reads: a typo, or a stale name"


def default_of(value: str) -> int:
    """The default of a compose value written ``${NAME:-default}``."""
    return int(re.fullmatch(r"\$\{\w+:-(\d+)\}", value).group(1))


def test_the_proxy_and_the_gateway_share_their_request_limits_and_the_proxy_is_the_trusted_one():
    gateway, proxy = SERVICES["gateway"]["environment"], SERVICES["proxy"]["environment"]
    for name in ("MAX_REQUEST_BYTES", "MAX_HEADER_BYTES"):
        assert gateway[name] == proxy[name]
        assert f"${{{name}}}" in NGINX
    edit_cap = default_of(proxy["MAX_EDIT_REQUEST_BYTES"])
    assert edit_cap == default_of(gateway["MAX_REQUEST_BYTES"]) + default_of(gateway["INPUT_IMAGES_MAX_TOTAL_BYTES"])
    assert "${MAX_EDIT_REQUEST_BYTES}" in NGINX
    assert gateway["FORWARDED_ALLOW_IPS"] == SERVICES["proxy"]["networks"]["backend"]["ipv4_address"]
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in NGINX  # replaced, not appended to


def test_the_proxy_streams_and_outwaits_a_generation_and_drops_idle_connections_before_the_gateway():
    assert re.search(r"^\s*proxy_buffering off;", NGINX, re.MULTILINE)
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", NGINX).group(1))
    assert read_timeout >= 120 + 60  # the default vendor timeout, then the image download
    proxy_idle = int(re.search(r"upstream gateway \{[^}]*keepalive_timeout (\d+)s;", NGINX).group(1))
    assert int(SERVICES["gateway"]["environment"]["KEEPALIVE_TIMEOUT"]) > proxy_idle


def test_docker_stop_gives_in_flight_generations_their_grace_period():
    from django.conf import settings

    grace = int(SERVICES["gateway"]["stop_grace_period"].removesuffix("s"))
    assert grace > settings.SHUTDOWN_GRACE_SECONDS
