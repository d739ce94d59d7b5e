"""``GET /metrics``: the gateway's Prometheus metrics, every worker's added up (``core.metrics``).

Only for the operator's scraper: one that sends ``METRICS_TOKEN`` as a Bearer token, or one whose
address is in ``METRICS_ALLOW_IPS``. With neither set the metrics are off and every request gets a 403:
they name the models, vendors and traffic of the gateway, which is nobody else's business. A missing
or wrong token is a 401 (from an address not allowed). Errors have OpenAI's shape like every answer.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core import metrics
from core.db import run_blocking
from core.errors import GatewayError
from imagegen.api.errors import MethodNotAllowed, answers_errors
from vendors.key_census import KeyStates

ALLOWED_METHODS = ("GET", "HEAD")


class MetricsOff(GatewayError):
    status, code = 403, "metrics_not_configured"

    def __init__(self) -> None:
        super().__init__("Metrics are off: the operator sets METRICS_TOKEN or METRICS_ALLOW_IPS to serve them.")


class MetricsForbidden(GatewayError):
    status, code = 403, "forbidden"

    def __init__(self) -> None:
        super().__init__("This address may not read the metrics.")


class MetricsTokenRequired(GatewayError):
    status, code = 401, "invalid_api_key"

    def __init__(self) -> None:
        super().__init__(
            "Missing or wrong metrics token: send it as 'Authorization: Bearer <METRICS_TOKEN>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )


def check_access(request: HttpRequest) -> None:
    """Raises unless the request may read the metrics (see the module)."""
    token, networks = settings.METRICS_TOKEN, settings.METRICS_ALLOW_IPS
    if not token and not networks:
        raise MetricsOff()
    if networks and _address_in(request.META.get("REMOTE_ADDR") or "", networks):
        return
    if not token:
        raise MetricsForbidden()
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise MetricsTokenRequired()


def _address_in(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


@csrf_exempt
@answers_errors
async def serve_metrics(request: HttpRequest) -> HttpResponse:
    if request.method not in ALLOWED_METHODS:
        raise MethodNotAllowed(request.method, "/metrics", ALLOWED_METHODS)
    check_access(request)
    body = await run_blocking(metrics.exposition, KeyStates())
    return HttpResponse(b"" if request.method == "HEAD" else body, content_type=metrics.CONTENT_TYPE)
