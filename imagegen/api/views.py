"""The OpenAI-compatible JSON endpoints: DRF views that parse, resolve the model and answer.

Authentication, parsing and errors are DRF's (settings ``REST_FRAMEWORK``, ``imagegen.api.drf``);
the pipeline does the work. Answers are Django ``JsonResponse``s, not DRF ``Response``s: Django's
async handler renders a DRF ``Response`` in a thread (``sync_to_async``), one more thread switch
per request for the same JSON. The model is resolved here, once, before anything is generated or a
stream is opened, so an unknown model is a plain 404.
"""

from __future__ import annotations

import base64
import secrets

from django.http import HttpResponse, JsonResponse
from rest_framework.request import Request

from imagegen import input_images, optimizer_choice, pipeline, styles
from imagegen.api import answers, dependencies, idempotent, readiness, replays, streaming
from imagegen.api import openapi_later as openapi
from imagegen.api.drf import GatewayView
from imagegen.api.idempotent import Answered
from imagegen.api.serializers import ChatCompletionSerializer, ImageGenerationSerializer
from imagegen.input_images import ImageSource
from proxy.object_store import read_image
from proxy.services import public_url
from vendors.adapters.base import InputImage
from vendors.selectors import routing_table


def validated(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


async def prompt_choices(payload: dict, *, from_text: bool) -> dict:
    """The idea, style and optimizer mode the request chose, each checked (a 400) before anything is spent."""
    style, idea = await styles.choose(payload.get("style"), payload["prompt"], from_text=from_text)
    mode = await optimizer_choice.client_mode(payload.get("prompt_optimizer"))
    return {"idea": idea, "style": style.openai_style, "preset": style.preset, "optimizer_mode": mode}


class ChatCompletionsApi(GatewayView):
    http_method_names = ["post"]

    @openapi.chat_completions
    async def post(self, request: Request) -> HttpResponse:
        payload = validated(ChatCompletionSerializer, request)
        route = await pipeline.resolve_route(payload["model"], request.user)
        choices = await prompt_choices(payload, from_text=True)
        images, _ = await read_input_images(request, route, payload["image_sources"])
        generation = pipeline.GenerationRequest(
            route=route,
            caller=request.user,
            size=payload.get("size") or None,
            n=payload["n"],
            end_user=payload["user"],
            endpoint="chat.stream" if payload["stream"] else "chat",
            images=images,
            **choices,
        )
        include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        guard = await idempotent.guard(request, "chat", idempotent.body_with_inputs(request.data, generation))
        if guard.replay is not None:
            return replays.chat(guard.replay.answer, payload["stream"], include_usage)
        generation = await self.admitted(generation, guard)
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        if payload["stream"]:
            events = streaming.chat_events(request, generation, completion_id, include_usage, guard)
            return streaming.event_stream(events, generation.admission)
        return await guard.run(chat_answer(request, generation, completion_id))


class ImageGenerationsApi(GatewayView):
    http_method_names = ["post"]

    @openapi.image_generations
    async def post(self, request: Request) -> HttpResponse:
        payload = validated(ImageGenerationSerializer, request)
        route = await pipeline.resolve_route(payload["model"], request.user)
        generation = await image_generation(request, payload, route, "images")
        guard = await idempotent.guard(request, "images")
        if guard.replay is not None:
            return await replays.images(guard.replay.answer)
        generation = await self.admitted(generation, guard)
        return await guard.run(images_answer(request, generation, payload["response_format"] == "b64_json"))


async def read_input_images(
    request: Request, route, sources: list[ImageSource], mask: ImageSource | None = None
) -> tuple[tuple[InputImage, ...], InputImage | None]:
    """The request's input images, once the model is known to take them (a 400 before anything is fetched)."""
    if not sources and mask is None:
        return (), None
    await input_images.check_model_takes(route, len(sources), mask is not None, request.user.allows)
    return await input_images.read_all(sources, mask)


async def image_generation(
    request: Request, payload: dict, route, endpoint: str, **inputs
) -> pipeline.GenerationRequest:
    """What an Images endpoint (generations, edits) asks for; ``inputs`` are its ``images`` and ``mask``."""
    return pipeline.GenerationRequest(
        route=route,
        caller=request.user,
        size=payload["size"] or None,
        n=payload["n"],
        quality=payload["quality"],
        end_user=payload["user"],
        endpoint=endpoint,
        **await prompt_choices(payload, from_text=False),
        **inputs,
    )


async def chat_answer(
    request: Request, generation: pipeline.GenerationRequest, completion_id: str
) -> Answered[HttpResponse]:
    outcome = await pipeline.generate(generation)
    content = answers.chat_content(outcome, [public_url(image, request) for image in outcome.images])
    body = answers.chat_completion(completion_id, outcome, content)
    response = JsonResponse(body, headers=answers.cost_headers(outcome))
    return Answered(response, {"kind": "chat", "body": body}, outcome.generation_id)


async def images_answer(request: Request, generation: pipeline.GenerationRequest, b64: bool) -> Answered[HttpResponse]:
    """The Images answer; what a replay gives keeps the images' tokens, not their bytes."""
    outcome = await pipeline.generate(generation)
    if b64:
        # Every image is stored first, so base64 works whatever form the vendor delivered it in.
        contents = [await read_image(image.file, image.byte_size) for image in outcome.images]
        items = [{"b64_json": base64.b64encode(data).decode("ascii")} for data in contents]
    else:
        items = [{"url": public_url(image, request)} for image in outcome.images]
    body = answers.images_response(outcome, items)
    stored = {**body, "data": [{k: v for k, v in item.items() if k != "b64_json"} for item in body["data"]]}
    answer = {"kind": "images", "body": stored, "b64": b64, "images": [image.token for image in outcome.images]}
    return Answered(JsonResponse(body, headers=answers.cost_headers(outcome)), answer, outcome.generation_id)


class ModelListApi(GatewayView):
    http_method_names = ["get"]

    @openapi.list_models
    async def get(self, request: Request) -> HttpResponse:
        table = await routing_table()
        data = [
            answers.model_entry(route)
            for route in sorted(table.models.values(), key=lambda route: route.name)
            if request.user.allows(route.name)
        ]
        return JsonResponse({"object": "list", "data": data})


class StyleListApi(GatewayView):
    http_method_names = ["get"]

    @openapi.list_styles
    async def get(self, request: Request) -> HttpResponse:
        presets = (await styles.enabled_presets()).values()
        return JsonResponse({"object": "list", "data": [answers.style_entry(style) for style in presets]})


class HealthApi(GatewayView):
    """For load balancers: no auth, no vendor; 200 when the database, the cache and image storage
    all answer within DEPENDENCY_CHECK_TIMEOUT, else 503, naming each one's state."""

    http_method_names = ["get", "head"]
    authentication_classes = []
    permission_classes = []
    checks_edge = False

    @openapi.health
    async def get(self, request: Request) -> HttpResponse:
        checks = await dependencies.health()
        healthy = all(state == dependencies.OK for state in checks.values())
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        return JsonResponse(body, status=200 if healthy else 503)


class ReadyApi(HealthApi):
    """For orchestrators: /health's checks plus the models that have no usable key; 503 only when no model
    can be served (a dependency is down, or no model has a usable key of its own or a fallback's)."""

    @openapi.health_ready
    async def get(self, request: Request) -> HttpResponse:
        body, ready = await readiness.readiness()
        return JsonResponse(body, status=200 if ready else 503)


chat_completions = ChatCompletionsApi.as_view()
image_generations = ImageGenerationsApi.as_view()
list_models = ModelListApi.as_view()
list_styles = StyleListApi.as_view()
health = HealthApi.as_view()
ready = ReadyApi.as_view()
