"""What each endpoint takes and answers, for the published contract (``/v1/openapi.json``).

drf-spectacular reads these declarations when it builds the document (once per process, see
``imagegen.api.contract``); a request never runs them. Every error status an endpoint really gives
is listed with OpenAI's error shape, so a client (or a fuzzer) can hold the gateway to it.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)

from imagegen.api import openapi_bodies as bodies

EXAMPLE_MODEL = "flux-schnell"

# Every status an endpoint may answer with an error, and what it means there.
ERRORS = {
    400: "invalid_request, invalid_json or empty_prompt: the body is not what the API takes (param names the "
    "field); style_not_found: style names no enabled preset; prompt_optimizer_not_allowed: the operator does not "
    "let clients choose that mode; invalid_host: the Host header is not one the gateway serves; "
    "content_policy_violation or upstream_bad_request: the vendor refused the prompt or the request; "
    "invalid_idempotency_key: the Idempotency-Key header is empty, too long or has other characters.",
    401: "invalid_api_key: the bearer key is missing, wrong, disabled or expired (the message says which of "
    "missing or expired).",
    404: "model_not_found: no enabled model has this name, or the key may not use it (answered alike; the "
    "message lists the key's models).",
    408: "request_timeout: the request did not arrive in time (the connection is closed).",
    409: "idempotency_key_reused: this Idempotency-Key was used with another body or endpoint; "
    "idempotency_request_in_progress: the first request with it is still running (Retry-After says when to retry).",
    410: "image_removed or image_expired: a base64 replay of an Idempotency-Key whose image was taken down or purged.",
    413: "request_too_large: the body is over MAX_REQUEST_BYTES.",
    415: "unsupported_media_type: the body was sent with a Content-Type other than application/json.",
    429: "rate_limit_exceeded: too many wrong or missing keys from this address, or the key's requests per minute "
    "or generations in flight are used up; insufficient_quota: the key's images of the day are used up, or "
    "its spend this month (UTC) has reached its monthly budget. "
    "Retry-After says when to retry.",
    431: "request_header_too_large: the request line and headers are too large (the connection is closed).",
    500: "internal_error: a bug, logged; the message is generic.",
    502: "upstream_error, upstream_job_lost or image_fetch_failed: the vendor failed; nothing is resubmitted "
    "that may have been billed. worker_lost: the first request with this Idempotency-Key died with its process.",
    503: "no_available_key, vendor_busy, service_unavailable, server_shutting_down or server_busy: try again "
    "later (Retry-After, when given, says when).",
    504: "upstream_timeout: the vendor took the request but did not answer in time; not resubmitted.",
}
# The same statuses where the request is not read, and no vendor is called.
PLAIN_ERRORS = {
    400: "invalid_host: the Host header is not one the gateway serves.",
    503: "service_unavailable, server_shutting_down or server_busy: try again later (Retry-After says when).",
}
# What any path of the gateway may answer before it reaches an endpoint's own logic.
EDGE = (400, 408, 431, 500, 503)
AUTHENTICATED = (*EDGE, 401, 429)
GENERATING = (*AUTHENTICATED, 404, 409, 413, 415, 502, 504)

RETRY_AFTER = [
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        required=True,
        description="Seconds until this address or key may try again.",
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[503],
        description="Seconds until a key or the dependency is expected back.",
    ),
]

# A client key with a requests-per-minute limit gets OpenAI's headers on its answers (imagegen.client_limits).
RATE_HEADERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.STR if name.endswith("reset-requests") else OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[200, 429],
        description=f"{text} (only for a key with a requests-per-minute limit).",
    )
    for name, text in (
        ("x-ratelimit-limit-requests", "The key's requests per minute"),
        ("x-ratelimit-remaining-requests", "Requests left in this minute"),
        ("x-ratelimit-reset-requests", "Time until the minute ends, as 7s or 1m0s"),
    )
]

# What a generation cost, on plain answers (a stream's headers go out before it is known).
COST_HEADERS = [
    OpenApiParameter(
        "X-Imagegen-Cost",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200],
        description='The request\'s cost, e.g. "0.040057 USD", or "unknown" (no price applies). Not on streams, '
        "except an Idempotency-Key's replay (0).",
    ),
    OpenApiParameter(
        "x-litellm-response-cost",
        OpenApiTypes.NUMBER,
        OpenApiParameter.HEADER,
        response=[200],
        description="The cost as a bare number in PRICE_CURRENCY, when it is known (LiteLLM reads it).",
    ),
    OpenApiParameter(
        "X-Imagegen-Cache",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200],
        enum=["hit"],
        description="hit: the images came from the model's opt-in image cache, with no vendor call (cost 0).",
    ),
]

# Never pay twice (imagegen.idempotency): the request's key, and how a replay is marked.
IDEMPOTENCY = [
    OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        pattern=r"^[!-~]{1,255}$",
        description="Your id for this request (printable ASCII without spaces, at most 255). Within "
        "IDEMPOTENCY_TTL (24 h) the same key and body get the stored answer again with no vendor call and cost 0; "
        "another body is a 409. Keys belong to the client key that sends them.",
    ),
    OpenApiParameter(
        "Idempotent-Replayed",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200, 502],
        enum=["true"],
        description="true: the stored answer of an earlier request with this Idempotency-Key (cost 0).",
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[409],
        description="With idempotency_request_in_progress: seconds before retrying with the same key.",
    ),
]

# Before OpenAPI 3.2, the schema of a text/event-stream answer describes each of its events.
SSE_EVENT = {
    "type": "object",
    "properties": {
        "data": {
            "type": "string",
            "description": "A chat.completion.chunk or an error object (OpenAI's shapes) as JSON, or [DONE].",
        },
        "event": {"type": "string"},
    },
    "required": ["data"],
}
STREAM = (
    'With "stream": true, server-sent events: chat.completion.chunk events (the role, progress as '
    "delta.reasoning_content, the Markdown answer as delta.content, finish_reason stop with the cost, and "
    '"cache": "hit" when the image cache answered, as top-level fields of that chunk, the usage chunk when '
    'stream_options.include_usage), ": keep-alive" comments while nothing else is said, then data: [DONE]. '
    "A failure after the stream began is an error event before [DONE]."
)


def error_responses(statuses, descriptions=ERRORS) -> dict:
    return {
        status: OpenApiResponse(bodies.Error, description=descriptions.get(status, ERRORS[status]))
        for status in statuses
    }


CHAT_EXAMPLE = OpenApiExample(
    "A lighthouse",
    value={"model": EXAMPLE_MODEL, "messages": [{"role": "user", "content": "a lighthouse in fog 16:9"}]},
    request_only=True,
)
IMAGES_EXAMPLE = OpenApiExample(
    "A kite",
    value={"model": EXAMPLE_MODEL, "prompt": "a kite over dunes", "size": "1024x576", "n": 1},
    request_only=True,
)

chat_completions = extend_schema(
    operation_id="createChatCompletion",
    description="The text of the last user message, with any size or ratio in it, becomes the image prompt; "
    "the answer links the stored images in Markdown.",
    tags=["chat"],
    summary="Generate images from the last user message",
    request=bodies.ChatCompletionRequest,
    examples=[CHAT_EXAMPLE],
    parameters=[*RETRY_AFTER, *COST_HEADERS, *IDEMPOTENCY, *RATE_HEADERS],
    responses={
        (200, "application/json"): OpenApiResponse(bodies.ChatCompletion, description="The chat.completion."),
        (200, "text/event-stream"): OpenApiResponse(SSE_EVENT, description=STREAM),
        **error_responses(GENERATING),
    },
)

image_generations = extend_schema(
    operation_id="createImage",
    description="OpenAI's Images API: the images are stored first, then answered as permanent URLs or base64.",
    tags=["images"],
    summary="Generate images from a prompt (OpenAI's Images API)",
    request=bodies.ImageGenerationRequest,
    examples=[IMAGES_EXAMPLE],
    parameters=[*RETRY_AFTER, *COST_HEADERS, *IDEMPOTENCY, *RATE_HEADERS],
    responses={
        200: OpenApiResponse(bodies.ImagesResponse, description="The stored images, as URLs or base64."),
        **error_responses((*GENERATING, 410)),
    },
)

list_models = extend_schema(
    operation_id="listModels",
    description="OpenAI's model list of the enabled image models; the prompt optimizer's LLM is never listed. "
    "Beside OpenAI's fields, each model carries its capabilities: its sizes or ratios (or side limits), the most "
    "images one call makes, and the input images, mask, qualities and styles it takes.",
    tags=["models"],
    summary="The enabled image models",
    parameters=RETRY_AFTER,
    responses={
        200: OpenApiResponse(bodies.ModelList, description="OpenAI's model list."),
        **error_responses(AUTHENTICATED, PLAIN_ERRORS),
    },
)

list_styles = extend_schema(
    operation_id="listStyles",
    description="The enabled style presets, in OpenAI's list shape: what a request may send as style.",
    tags=["models"],
    summary="The style presets",
    parameters=RETRY_AFTER,
    responses={
        200: OpenApiResponse(bodies.StyleList, description="The presets, by name."),
        **error_responses(AUTHENTICATED, PLAIN_ERRORS),
    },
)

health = extend_schema(
    tags=["health"],
    description="No auth, no vendor call, any Host; each check within DEPENDENCY_CHECK_TIMEOUT.",
    summary="The database, the cache and image storage, for load balancers (no auth, any Host)",
    responses={
        200: OpenApiResponse(bodies.Health, description="Every check answered ok."),
        503: OpenApiResponse(
            PolymorphicProxySerializer("HealthOrError", [bodies.Health, bodies.Error], resource_type_field_name=None),
            description="A check failed (it says timeout or unreachable), or the server is at its connection limit "
            "(server_busy, Retry-After: 1).",
        ),
        **error_responses((408, 431, 500)),
    },
)

health_ready = extend_schema(
    operation_id="healthReady",
    tags=["health"],
    description="No auth, no vendor call, any Host. /health's checks, plus each enabled model's keys: the models "
    "with no usable key (none configured, all disabled, all resting) are listed with why and whether a fallback "
    "serves them. 200 while any model can be served (status degraded when some cannot).",
    summary="Readiness: the dependencies and the models that can be served (no auth, any Host)",
    responses={
        200: OpenApiResponse(bodies.Readiness, description="At least one model can be served."),
        503: OpenApiResponse(
            PolymorphicProxySerializer(
                "ReadinessOrError", [bodies.Readiness, bodies.Error], resource_type_field_name=None
            ),
            description="No model can be served: a dependency is down, or no model has a usable key; or the server "
            "is at its connection limit (server_busy, Retry-After: 1).",
        ),
        **error_responses((408, 431, 500)),
    },
)

document = extend_schema(
    operation_id="openapiDocument",
    tags=["contract"],
    summary="This document (OpenAPI 3, no auth)",
    description="Built once per process by drf-spectacular from the endpoints' declarations.",
    responses={
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="The OpenAPI document."),
        **error_responses(EDGE, PLAIN_ERRORS),
    },
)
