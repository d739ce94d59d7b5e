"""The outermost layer of every HTTP request: its id, and the request metrics.

Before anything else runs, the request gets its context (``core.request_context``): the client's
``X-Request-ID`` when it is a plain token, else a new one. Every answer carries it back in
``X-Request-ID``, whatever made the answer (a view, an error view, the admin, a stream), and every log
line of the request names it. Around the request it counts what ``core.metrics`` publishes: the
requests in flight, then the request by endpoint, model and status, and how long it took. A client
that leaves before an answer began is counted with status ``499``, as nginx logs it.
"""

from __future__ import annotations

from time import perf_counter

from core import metrics, request_context

HEADER = request_context.HEADER.lower().encode("ascii")
CLIENT_CLOSED = "499"
# Path -> the endpoint label: a fixed list, so a client's paths cannot grow the metrics without bound.
EXACT = {
    "/v1/chat/completions": "chat.completions",
    "/v1/images/generations": "images.generations",
    "/v1/models": "models",
    "/v1/openapi.json": "openapi",
    "/metrics": "metrics",
}
PREFIXES = (("/images/", "image_files"), ("/health", "health"), ("/v1/health", "health"), ("/admin/", "admin"))


def endpoint_of(path: str) -> str:
    if path in EXACT:
        return EXACT[path]
    return next((name for prefix, name in PREFIXES if path.startswith(prefix)), "other")


def header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class Observed:
    """Wraps an ASGI application (``imagegen.asgi``): see the module."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = endpoint_of(scope["path"])
        context = request_context.begin(header(scope, HEADER), endpoint)
        echoed = (HEADER, context.request_id.encode("ascii"))
        status = CLIENT_CLOSED

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
                kept = [(key, value) for key, value in message.get("headers", ()) if key.lower() != HEADER]
                message = {**message, "headers": [*kept, echoed]}
            await send(message)

        started = perf_counter()
        in_flight = metrics.IN_FLIGHT.labels(endpoint)
        in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            in_flight.dec()
            metrics.REQUESTS.labels(endpoint, context.model, status).inc()
            metrics.REQUEST_SECONDS.labels(endpoint).observe(perf_counter() - started)
