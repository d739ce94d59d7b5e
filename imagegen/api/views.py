"""The OpenAI-compatible HTTP edge. Views parse, authenticate and answer; the pipeline does the work."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.db import run_blocking, run_db
from imagegen import pipeline
from imagegen.api import answers, streaming
from imagegen.api.auth import Caller, authenticate
from imagegen.api.errors import ApiError, error_response, method_not_allowed
from imagegen.api.serializers import ChatCompletionSerializer, ImageGenerationSerializer, first_error
from proxy.services import public_url, read_stored
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
    # Checked before any answer starts, so a stream never opens for a model that does not exist.
    await pipeline.find_route(payload["model"])
    generation = pipeline.GenerationRequest(
        model=payload["model"],
        idea=payload["prompt"],
        caller=caller,
        size=payload.get("size") or None,
        n=payload["n"],
        end_user=payload["user"],
        endpoint="chat.stream" if payload["stream"] else "chat",
    )
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"
    if payload["stream"]:
        include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        return streaming.event_stream(
            streaming.chat_events(request, generation, completion_id, payload["prompt"], include_usage)
        )
    outcome = await pipeline.generate(generation)
    content = answers.chat_content(outcome, [public_url(image, request) for image in outcome.images])
    return JsonResponse(answers.chat_completion(completion_id, outcome, content, payload["prompt"]))


@api_endpoint("POST")
async def image_generations(request: HttpRequest, caller: Caller) -> HttpResponse:
    payload = validated(ImageGenerationSerializer, read_json(request))
    outcome = await pipeline.generate(
        pipeline.GenerationRequest(
            model=payload["model"],
            idea=payload["prompt"],
            caller=caller,
            size=payload["size"] or None,
            n=payload["n"],
            quality=payload["quality"],
            style=payload["style"],
            end_user=payload["user"],
            endpoint="images",
        )
    )
    if payload["response_format"] == "b64_json":
        # Every image is stored first, so base64 works whatever form the vendor delivered it in.
        contents = await run_blocking(lambda: [read_stored(image) for image in outcome.images])
        items = [{"b64_json": base64.b64encode(data).decode("ascii")} for data in contents]
    else:
        items = [{"url": public_url(image, request)} for image in outcome.images]
    return JsonResponse(answers.images_response(outcome, items))


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
