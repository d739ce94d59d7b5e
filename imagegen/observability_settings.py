"""Reading the settings for watching the gateway: the Prometheus metrics and their access, the log's format.

``imagegen.settings`` calls these. :func:`metrics_dir` puts ``PROMETHEUS_MULTIPROC_DIR`` in the
environment before anything imports prometheus-client: the library picks its multiprocess mode when
it is first imported (``core.metrics``).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from imagegen.env_reading import env, read


def metrics_dir(data_dir: Path) -> Path:
    """``PROMETHEUS_MULTIPROC_DIR``, by default ``DATA_DIR/metrics``: made, and set for prometheus-client."""
    folder = Path(read("str", "PROMETHEUS_MULTIPROC_DIR", str(data_dir / "metrics"))).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for value in read("list", name, []):
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {value!r} is not an IP address or network ({exc}).") from exc
    return tuple(networks)


def log_format() -> str:
    value = env.str("LOG_FORMAT", default="plain").strip().lower()
    if value not in {"plain", "json"}:
        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json (got {value!r}).")
    return value
