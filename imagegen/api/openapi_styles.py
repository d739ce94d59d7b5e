"""The OpenAPI bodies of style presets and the client's optimizer choice (``imagegen.api.openapi_bodies``)."""

from __future__ import annotations

from rest_framework import serializers

from imagegen.api.serializers import OPTIMIZER_MODES, STYLE_CHARS
from imagegen.api.text import SAFE_TEXT

STYLE_HELP = (
    "OpenAI's vivid or natural (passed on where the vendor has them), or the name of a style preset that "
    "GET /v1/styles lists; any other value is a 400 style_not_found."
)
OPTIMIZER_HELP = (
    "Rewriting of the prompt for this request: off (the words as given), fast or reasoning; the operator "
    "decides which are allowed (another is a 400 prompt_optimizer_not_allowed). Absent: the operator's mode."
)


def style_body():
    return serializers.RegexField(
        SAFE_TEXT, required=False, allow_null=True, min_length=1, max_length=STYLE_CHARS, help_text=STYLE_HELP
    )


def optimizer_body():
    return serializers.ChoiceField(OPTIMIZER_MODES, required=False, allow_null=True, help_text=OPTIMIZER_HELP)


class ExtraBody(serializers.Serializer):
    """For clients that send extra_body as it is rather than merged into the body."""

    style = style_body()
    prompt_optimizer = optimizer_body()


class StylePreset(serializers.Serializer):
    id = serializers.CharField(help_text="The preset's name: send it as style.")
    object = serializers.ChoiceField(choices=["style"])
    description = serializers.CharField()
    default_ratio = serializers.CharField(allow_null=True, help_text="W:H used when the request names no size.")
    negative_prompt = serializers.BooleanField(help_text="Whether it sends a negative prompt (to kinds that take one).")


class StyleList(serializers.Serializer):
    object = serializers.ChoiceField(choices=["list"])
    data = StylePreset(many=True)
