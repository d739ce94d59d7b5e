"""The published contract of ``POST /v1/images/edits`` (OpenAI's multipart form); see ``imagegen.api.openapi``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

from imagegen.api import openapi_bodies as bodies
from imagegen.api.openapi import (
    COST_HEADERS,
    ERRORS,
    GENERATING,
    IDEMPOTENCY,
    RATE_HEADERS,
    RETRY_AFTER,
    error_responses,
)


class ImageEditRequest(bodies.ImageGenerationRequest):
    """The form of POST /v1/images/edits as documented: the generations fields, the image(s) and a mask."""

    image = serializers.FileField(
        help_text="The image to edit (PNG, JPEG or WebP). Several images: repeat the field as image[] "
        "(the openai package's array form), up to INPUT_IMAGES_MAX_COUNT and the model's input_images."
    )
    mask = serializers.FileField(
        required=False,
        help_text="Where to edit: the transparent pixels (OpenAI's convention); for models whose mask is true.",
    )


EDIT_ERRORS = {
    **ERRORS,
    400: ERRORS[400] + " invalid_image: an image or the mask is missing, not a PNG, JPEG or WebP, or over its cap "
    "(param names it); model_does_not_accept_images, too_many_input_images or model_does_not_accept_mask: the "
    "model cannot take these images (the message names the models that can).",
    413: "request_too_large: the body is over MAX_REQUEST_BYTES plus INPUT_IMAGES_MAX_TOTAL_BYTES.",
    415: "unsupported_media_type: the body was not sent as multipart/form-data.",
}

image_edits = extend_schema(
    operation_id="createImageEdit",
    description="OpenAI's image edits: the uploaded image(s) (and mask) go to the model with the prompt; the "
    "inputs are stored and linked from the ledger row, the results stored and answered like generations.",
    tags=["images"],
    summary="Edit or restyle uploaded images (OpenAI's Images API)",
    request={"multipart/form-data": ImageEditRequest},
    parameters=[*RETRY_AFTER, *COST_HEADERS, *IDEMPOTENCY, *RATE_HEADERS],
    responses={
        200: OpenApiResponse(bodies.ImagesResponse, description="The stored images, as URLs or base64."),
        **error_responses((*GENERATING, 410), EDIT_ERRORS),
    },
)
