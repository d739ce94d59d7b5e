"""The bodies of the published contract (``/v1/openapi.json``): what each endpoint answers, and the
chat request as clients send it.

Documentation only: no view validates or renders with these serializers (the views answer with
``JsonResponse``s built in ``imagegen.api.answers``), so they cost nothing per request. They say
what those answers hold, field by field; the contract tests hold them to it.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from imagegen.api.openapi_styles import ExtraBody, StyleList, optimizer_body, style_body  # noqa: F401
from imagegen.api.serializers import MAX_MESSAGES, ROLES, ChatCompletionSerializer, ImageGenerationSerializer
from imagegen.api.text import SAFE, SAFE_TEXT


class ErrorDetail(serializers.Serializer):
    message = serializers.CharField(help_text="For people; never holds a key or an upstream URL.")
    type = serializers.CharField(help_text="OpenAI's error type, e.g. invalid_request_error, server_error.")
    param = serializers.CharField(allow_null=True, help_text="The request field at fault, dotted.")
    code = serializers.CharField(allow_null=True, help_text="What went wrong, e.g. model_not_found.")


class Error(serializers.Serializer):
    """OpenAI's error shape: every error the gateway answers has it."""

    error = ErrorDetail()


TEXT_PART = {
    "type": "object",
    "properties": {"type": {"type": "string", "example": "text"}, "text": {"type": "string"}},
    "required": ["type"],
}


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": TEXT_PART}], "nullable": True})
class MessageContent(serializers.JSONField):
    """A string, or an array of content parts: parts of type text or input_text are drawn; image_url parts
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64,..." or "https://..."}}) of the last user
    message are its input images, for models that take them; other parts are ignored."""


class ChatMessage(serializers.Serializer):
    role = serializers.ChoiceField(choices=sorted(ROLES))
    content = MessageContent(
        required=False,
        allow_null=True,
        help_text="A string, or an array of content parts; the text of the last user message is the prompt, its "
        "image_url parts (data:image/...;base64 or http(s) URLs) the input images for models that take them.",
    )


class StreamOptions(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, allow_null=True)


# A prompt: safe text (imagegen.api.text) with something other than white space.
PROMPT_PATTERN = f"^[^{SAFE}]*[^\\s{SAFE}][^{SAFE}]*$"
IMAGE_COUNT = serializers.IntegerField(
    required=False, allow_null=True, min_value=1, max_value=settings.MAX_IMAGES_PER_REQUEST, default=1
)
SIDE = "(?:6[4-9]|[7-9][0-9]|[1-9][0-9]{2}|[1-3][0-9]{3}|40[0-8][0-9]|409[0-6])"  # 64 to 4096
SIZE = serializers.RegexField(
    f"^(?:auto|{SIDE}x{SIDE})?$",
    required=False,
    allow_blank=True,
    allow_null=True,
    max_length=20,
    help_text="WxH (sides 64-4096) or auto; it beats any size or ratio in the text.",
)
MODEL = serializers.RegexField(PROMPT_PATTERN, max_length=200, help_text="A model name from GET /v1/models.")


class ChatCompletionRequest(ChatCompletionSerializer):
    """The body of POST /v1/chat/completions as documented (the view checks messages itself)."""

    messages = serializers.ListField(child=ChatMessage(), min_length=1, max_length=MAX_MESSAGES)
    stream_options = StreamOptions(required=False, allow_null=True)
    model = MODEL
    n = IMAGE_COUNT
    size = SIZE
    user = serializers.RegexField(SAFE_TEXT, required=False, allow_blank=True, allow_null=True, max_length=200)
    style = style_body()
    prompt_optimizer = optimizer_body()
    extra_body = ExtraBody(
        required=False,
        allow_null=True,
        help_text="style and prompt_optimizer, where the body itself does not set them.",
    )


class ImageGenerationRequest(ImageGenerationSerializer):
    """The body of POST /v1/images/generations as documented."""

    prompt = serializers.RegexField(PROMPT_PATTERN, max_length=settings.MAX_PROMPT_CHARS)
    model = MODEL
    n = IMAGE_COUNT
    size = SIZE
    quality = serializers.RegexField(SAFE_TEXT, required=False, allow_null=True, min_length=1, max_length=20)
    style = style_body()
    prompt_optimizer = optimizer_body()
    user = serializers.RegexField(SAFE_TEXT, required=False, allow_blank=True, allow_null=True, max_length=200)


class AssistantMessage(serializers.Serializer):
    role = serializers.ChoiceField(choices=["assistant"])
    content = serializers.CharField(help_text="Markdown: the image links, the prompt, the model and the size.")


class Choice(serializers.Serializer):
    index = serializers.IntegerField()
    message = AssistantMessage()
    logprobs = serializers.JSONField(allow_null=True)
    finish_reason = serializers.ChoiceField(choices=["stop"])


COST_TEXT = serializers.CharField(
    help_text='The request\'s cost, e.g. "0.040057 USD", or "unknown" (no price applies).'
)


class Usage(serializers.Serializer):
    prompt_tokens = serializers.IntegerField(min_value=0, help_text="The prompt optimizer LLM's input tokens.")
    completion_tokens = serializers.IntegerField(min_value=0, help_text="The prompt optimizer LLM's output tokens.")
    total_tokens = serializers.IntegerField(min_value=0)
    cost = serializers.FloatField(required=False, help_text="The cost in PRICE_CURRENCY; absent when unknown.")


class ChatCompletion(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.ChoiceField(choices=["chat.completion"])
    created = serializers.IntegerField()
    model = serializers.CharField(help_text="The model that made the images (a fallback model, when one did).")
    choices = Choice(many=True)
    usage = Usage()


class ImageItem(serializers.Serializer):
    url = serializers.CharField(required=False, help_text="With response_format url: the image's permanent URL.")
    b64_json = serializers.CharField(required=False, help_text="With response_format b64_json: the stored bytes.")
    revised_prompt = serializers.CharField(help_text="The prompt sent to the vendor.")


class InputTokensDetails(serializers.Serializer):
    text_tokens = serializers.IntegerField(min_value=0)
    image_tokens = serializers.IntegerField(min_value=0)


class ImagesUsage(serializers.Serializer):
    input_tokens = serializers.IntegerField(min_value=0, help_text="The prompt optimizer LLM's input tokens.")
    output_tokens = serializers.IntegerField(min_value=0, help_text="The prompt optimizer LLM's output tokens.")
    total_tokens = serializers.IntegerField(min_value=0)
    input_tokens_details = InputTokensDetails()


class ImagesResponse(serializers.Serializer):
    created = serializers.IntegerField()
    data = ImageItem(many=True)
    model = serializers.CharField()
    size = serializers.CharField(help_text="The pixel size measured from the stored images, e.g. 1024x576.")
    usage = ImagesUsage()
    cost = COST_TEXT
    notes = serializers.ListField(child=serializers.CharField(), required=False)


class SizeLimits(serializers.Serializer):
    multiple_of = serializers.IntegerField(allow_null=True, help_text="Sides are rounded to a multiple of this.")
    min_side = serializers.IntegerField(allow_null=True)
    max_side = serializers.IntegerField(allow_null=True)
    max_megapixels = serializers.FloatField(allow_null=True, help_text="1.0 = 1024x1024.")


class ModelCapabilities(serializers.Serializer):
    sizes = serializers.ListField(
        child=serializers.CharField(),
        help_text="The only sizes (WxH) the model makes; a request gets the closest. Empty: see ratios and limits.",
    )
    ratios = serializers.ListField(
        child=serializers.CharField(),
        help_text="The only aspect ratios (W:H) it takes, when it has no size list. Empty: any shape.",
    )
    size_limits = SizeLimits(
        allow_null=True, help_text="Side and area limits; null: none. No sizes, ratios or limits: any size."
    )
    default_size = serializers.CharField(allow_null=True, help_text="The size used when a request names none.")
    images_per_call = serializers.IntegerField(
        help_text="The most images one vendor call makes; n above it takes more calls."
    )
    input_images = serializers.IntegerField(
        allow_null=True, help_text="How many input images it takes; 0: none; null: unknown."
    )
    mask = serializers.BooleanField(help_text="Whether it takes a mask with an input image.")
    qualities = serializers.ListField(
        child=serializers.CharField(), help_text="The qualities it knows; empty: unknown."
    )
    styles = serializers.ListField(child=serializers.CharField(), help_text="The styles it knows; empty: none known.")


class Model(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.ChoiceField(choices=["model"])
    created = serializers.IntegerField()
    owned_by = serializers.CharField(help_text="The vendor's name.")
    capabilities = ModelCapabilities(help_text="Beside OpenAI's fields: what the model can do.")


class ModelList(serializers.Serializer):
    object = serializers.ChoiceField(choices=["list"])
    data = Model(many=True)


CHECK_STATES = ["ok", "timeout", "unreachable"]


class HealthChecks(serializers.Serializer):
    database = serializers.ChoiceField(choices=CHECK_STATES)
    cache = serializers.ChoiceField(choices=CHECK_STATES)
    storage = serializers.ChoiceField(choices=CHECK_STATES)


class Health(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    checks = HealthChecks()


class ModelWithoutKey(serializers.Serializer):
    model = serializers.CharField()
    vendor = serializers.CharField()
    reason = serializers.CharField(help_text="Why no key of the model's vendor can be used now.")
    retry_after = serializers.IntegerField(
        allow_null=True, help_text="Seconds until the first resting key is back; null when none is resting."
    )
    served_by = serializers.CharField(
        allow_null=True, help_text="The fallback model that serves its requests now; null: they fail."
    )


class ReadyModels(serializers.Serializer):
    total = serializers.IntegerField(help_text="Enabled models of enabled vendors.")
    servable = serializers.IntegerField(help_text="Of those, the ones a request can be served for (or a fallback).")
    without_usable_key = ModelWithoutKey(many=True)


class Readiness(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "degraded", "unavailable"], help_text="degraded: some models have no usable key."
    )
    checks = HealthChecks()
    models = ReadyModels(allow_null=True, help_text="null when the database does not answer.")
