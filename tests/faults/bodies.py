"""Each kind's own error answers for the faults whose meaning is in the body (vendor-protocols §1-§9).

A 401 or a 403 means different things at different vendors, so the matrix sends each kind the body its
real API sends. Bad-key answers echo the key and the URL the request carried (OpenAI echoes part of the
key; proxies echo URLs): the gateway must keep both away from clients and logs.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from tests.fakes.faults import Fault, status


def sent_key(request: web.Request) -> str:
    """The key a request carried: ``x-key`` (BFL), else the token of ``Authorization`` (Bearer, Key)."""
    return request.headers.get("x-key") or request.headers.get("Authorization", "").split(" ", 1)[-1]


def _echo(template: Callable[[str], object]) -> Callable[[web.Request], object]:
    """A body that names the key the request carried and the URL it went to."""
    return lambda request: template(f"{sent_key(request)} (at {request.url})")


def _openai(message: str, code: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _cloudflare(message: str, code: int | None = None) -> dict:
    error = {"message": message} if code is None else {"code": code, "message": message}
    return {"result": None, "success": False, "errors": [error], "messages": []}


# kind -> fault name -> (status, body). The 429s are sent with the Retry-After of their row.
BODIES: dict[str, dict[str, tuple[int, object]]] = {
    "siliconflow": {
        "401": (401, _echo(lambda said: f"Invalid token {said}")),  # a bare JSON string, as SiliconFlow sends
        "403-bad-key": (403, {"code": 30003, "message": "Model disabled.", "data": None}),
        "403-policy": (403, {"code": 20044, "message": "The prompt contains sensitive content.", "data": None}),
        "429": (429, {"message": "Request was rejected due to rate limiting. Details:IPM limit reached.", "data": "x"}),
    },
    "chat_image": {  # OpenRouter: 403 is its moderation flag
        "401": (401, _echo(lambda said: {"error": {"code": 401, "message": f"No auth credentials found {said}"}})),
        "403-bad-key": (403, {"error": {"code": 403, "message": "This API key is disabled: permission denied"}}),
        "403-policy": (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "google/gemini requires moderation on OpenRouter. Your input was flagged.",
                    "metadata": {"reasons": ["violence"], "flagged_input": "a violet...", "provider_name": "Google"},
                }
            },
        ),
        "429": (429, {"error": {"code": 429, "message": "Rate limit exceeded: free-models-per-min."}}),
    },
    "openai_images": {
        "401": (401, _echo(lambda said: _openai(f"Incorrect API key provided: {said}.", "invalid_api_key"))),
        "403-bad-key": (403, _openai("You have insufficient permissions for this operation.", "permission_denied")),
        "403-policy": (
            403,
            _openai("Your request was rejected as a result of our safety system.", "content_policy_violation"),
        ),
        "403-region": (
            403,
            _openai(
                "Country, region, or territory not supported",
                "unsupported_country_region_territory",
                "request_forbidden",
            ),
        ),
        "429": (429, _openai("Rate limit reached for images per minute.", "rate_limit_exceeded", "requests")),
    },
    "stability": {  # the only 403 Stability documents is its moderation
        "401": (401, _echo(lambda said: {"id": "e1", "name": "unauthorized", "errors": [f"bad key {said}"]})),
        "403-bad-key": (403, {"id": "e2", "name": "forbidden", "errors": ["invalid api key: permission denied"]}),
        "403-policy": (
            403,
            {
                "id": "e3",
                "name": "content_moderation",
                "errors": ["Your request was flagged by our content moderation"],
            },
        ),
        "429": (429, {"id": "e4", "name": "rate_limit_exceeded", "errors": ["You have exceeded the rate limit."]}),
    },
    "workers_ai": {
        "401": (401, _echo(lambda said: _cloudflare(f"Authentication error {said}", 10000))),
        "403-bad-key": (403, _cloudflare("Authentication error", 10000)),
        "403-policy": (403, _cloudflare("The input was flagged by content moderation")),
        "429": (429, _cloudflare("Too many requests")),
    },
    "replicate": {  # problem details
        "401": (401, _echo(lambda said: {"title": "Unauthenticated", "detail": f"bad token {said}", "status": 401})),
        "403-bad-key": (
            403,
            {"title": "Forbidden", "detail": "Permission denied: this token cannot run models", "status": 403},
        ),
        "403-policy": (
            403,
            {"title": "Forbidden", "detail": "The input was flagged as NSFW by the safety checker.", "status": 403},
        ),
        "429": (429, {"detail": "Request was throttled.", "status": 429}),
    },
    "bfl": {  # FastAPI
        "401": (401, _echo(lambda said: {"detail": f"Not authenticated - Invalid Authentication {said}"})),
        "403-bad-key": (403, {"detail": "Forbidden"}),
        "403-policy": (403, {"detail": "Request flagged by content moderation."}),
        "429": (429, {"detail": "You have exceeded the number of active tasks (24)."}),
    },
    "fal": {
        "401": (401, _echo(lambda said: {"detail": f"Unauthorized {said}"})),
        "403-bad-key": (
            403,
            {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."},
        ),
        "403-policy": (
            403,
            {
                "detail": [
                    {"loc": ["body", "prompt"], "msg": "The content was flagged.", "type": "content_policy_violation"}
                ]
            },
        ),
        "429": (429, {"detail": "Rate limit exceeded"}),
    },
}

BODIES["openai_chat"] = BODIES["openai_images"]  # the same OpenAI family errors


def kind_fault(kind: str, name: str, headers: dict[str, str] | None = None) -> Fault:
    code, body = BODIES[kind][name]
    return status(code, body, headers=headers, name=name)
