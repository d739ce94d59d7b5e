"""The OpenAI-compatible HTTP edge. Views parse, authenticate and answer; the pipeline does the work."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from imagegen import pipeline
from imagegen.api.auth import Caller, authenticate
from imagegen.api.errors import ApiError, error_response, method_not_allowed
from imagegen.api.serializers import ChatCompletionSerializer, first_error
from imagegen.db import run_db
from proxy.services import public_url
from vendors.selectors import routing_table

log = logging.getLogger(__name__)

View = Callable[..., Awaitable[HttpResponse]]


def api_endpoint(*methods: str, authenticated: bool = True) -> Callable[[View], View]:
    """Method check, client authentication and OpenAI-shaped errors around an async view."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                if request.method not in methods:
                    return method_not_allowed(request, methods)
                if authenticated:
                    kwargs["caller"] = await authenticate(request)
                return await view(request, *args, **kwargs)
            except ApiError as exc:
                return exc.response()
            except RequestDataTooBig:
                return error_response(413, "The request body is too large.", code="request_too_large")
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.path)
                return error_response(
                    500, "The server had an error while processing your request.", code="internal_error"
                )

        return wrapper

    return decorate


def read_json(request: HttpRequest) -> dict:
    if request.content_type and request.content_type != "application/json":
        raise ApiError(415, "Send the body as JSON (Content-Type: application/json).", code="unsupported_media_type")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_request")
    return data


def validated(serializer_class, data: dict) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        param, message = first_error(serializer.errors)
        if message == "This field is required.":
            message = f"Missing required parameter: '{param}'."
        else:
            message = f"Invalid '{param}': {message}" if param else message
        raise ApiError(400, message, code="invalid_request", param=param or None)
    return serializer.validated_data


@api_endpoint("POST")
async def chat_completions(request: HttpRequest, caller: Caller) -> HttpResponse:
    payload = validated(ChatCompletionSerializer, read_json(request))
    if payload["stream"]:
        raise ApiError(
            400,
            'Streaming is not supported yet: send "stream": false (or leave it out).',
            code="stream_not_supported",
            param="stream",
        )
    outcome = await pipeline.generate(
        pipeline.GenerationRequest(
            model=payload["model"], idea=payload["prompt"], caller=caller, size=payload.get("size") or None
        )
    )
    links = "\n\n".join(f"![image]({public_url(image, request)})" for image in outcome.images)
    content = f"{links}\n\nOptimized prompt: {outcome.prompt}"
    prompt_tokens = len(payload["prompt"].split())
    completion_tokens = len(content.split())
    return JsonResponse(
        {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": outcome.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


@api_endpoint("GET")
async def list_models(request: HttpRequest, caller: Caller) -> HttpResponse:
    table = await routing_table()
    data = [
        {"id": route.name, "object": "model", "created": route.created, "owned_by": route.vendor.name}
        for route in sorted(table.models.values(), key=lambda route: route.name)
    ]
    return JsonResponse({"object": "list", "data": data})


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


@api_endpoint("GET", "HEAD", authenticated=False)
async def health(request: HttpRequest) -> HttpResponse:
    try:
        await run_db(_database_answers)
    except Exception as exc:
        log.error("health check: the database did not answer (%s)", type(exc).__name__)
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})
