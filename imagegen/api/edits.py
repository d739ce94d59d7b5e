"""``POST /v1/images/edits``: OpenAI's multipart form, answered like ``/v1/images/generations``.

The form's files are ``image`` (one, or several as ``image[]``: the ``openai`` package's array form) and
an optional ``mask``; its fields are those of the generations body. The same pipeline runs (auth, limits,
Idempotency-Key, ledger, costs, stored images), with the images checked against the model before
anything is read from them, and read and verified before the optimizer or a vendor is called.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request

from core.db import run_blocking
from imagegen import pipeline
from imagegen.api import idempotent, replays
from imagegen.api import openapi_later as openapi_edits
from imagegen.api.drf import GatewayRequest, GatewayView
from imagegen.api.serializers import ImageEditSerializer
from imagegen.api.views import image_generation, images_answer, read_input_images
from imagegen.input_images import ImageSource, InvalidInputImage, check_count, too_big

IMAGE_FIELDS = ("image", "image[]")


class MultipartRequest(GatewayRequest):
    def _load_stream(self):
        """Django's multipart parser reads the body as it goes; the body may hold the images' bytes on top of
        MAX_REQUEST_BYTES (the form's own fields stay within it: DATA_UPLOAD_MAX_MEMORY_SIZE)."""
        length = int(self._request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.MAX_REQUEST_BYTES + settings.INPUT_IMAGES_MAX_TOTAL_BYTES:
            raise RequestDataTooBig()
        self._stream = self._request if length and not self._request._read_started else None


class ImageEditsApi(GatewayView):
    http_method_names = ["post"]
    parser_classes = [MultiPartParser]
    request_class = MultipartRequest

    @openapi_edits.image_edits
    async def post(self, request: Request) -> HttpResponse:
        serializer = ImageEditSerializer(data=form_fields(request))
        serializer.is_valid(raise_exception=True)
        payload = serializer.validated_data
        route = await pipeline.resolve_route(payload["model"], request.user)
        sources, mask = await run_blocking(uploaded_images, request)
        images, mask_image = await read_input_images(request, route, sources, mask)
        generation = await image_generation(request, payload, route, "images.edits", images=images, mask=mask_image)
        body = idempotent.body_with_inputs(dict(payload), generation)  # the form's fields, and the files' SHA-256s
        guard = await idempotent.guard(request, "images.edits", body)
        if guard.replay is not None:
            return await replays.images(guard.replay.answer)
        generation = await self.admitted(generation, guard)
        return await guard.run(images_answer(request, generation, payload["response_format"] == "b64_json"))


def form_fields(request: Request) -> dict:
    """The form's text fields (a field sent twice counts once: its last value, as Django reads it)."""
    return {key: request.data.get(key) for key in request.data if key not in request.FILES}


def uploaded_images(request: Request) -> tuple[list[ImageSource], ImageSource | None]:
    """The uploaded ``image`` / ``image[]`` files in order, and the ``mask``; read whole, each within its cap
    (blocking: a large upload is in a temporary file)."""
    uploads = [(field, upload) for field in IMAGE_FIELDS for upload in request.FILES.getlist(field)]
    if not uploads:
        sent_as_text = any(field in request.data for field in IMAGE_FIELDS)
        problem = "must be an uploaded file" if sent_as_text else "is required: upload the image to edit as a file"
        raise InvalidInputImage(f"'image' {problem} (multipart/form-data).", "image")
    check_count(len(uploads), "image")
    sources = [ImageSource(param=field, data=_read(upload, field)) for field, upload in uploads]
    masks = request.FILES.getlist("mask")
    if len(masks) > 1:
        raise InvalidInputImage("Send one mask at most.", "mask")
    return sources, (ImageSource(param="mask", data=_read(masks[0], "mask")) if masks else None)


def _read(upload, param: str) -> bytes:
    if upload.size > settings.INPUT_IMAGE_MAX_BYTES:
        raise too_big(param)
    return upload.read()


image_edits = ImageEditsApi.as_view()
