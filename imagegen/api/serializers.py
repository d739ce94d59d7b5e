"""Request validation for the OpenAI-compatible endpoints (DRF serializers, no ORM)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from imagegen.size_from_text import parse_size

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class ChatCompletionSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=200)
    # Checked in validate_messages rather than by a nested serializer: DRF copies a nested
    # serializer's fields for every request, and this endpoint is the hot path.
    messages = serializers.ListField(allow_empty=False)
    # Clients often send null for what they leave at its default.
    stream = serializers.BooleanField(required=False, allow_null=True, default=False)
    stream_options = serializers.DictField(required=False, allow_null=True)
    size = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=20)
    n = serializers.IntegerField(required=False, allow_null=True, default=1)
    user = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200, default="")

    def validate_n(self, value):
        return None if value is None else validate_image_count(value)

    def validate_size(self, value):
        return validate_size_value(value)

    def validate_messages(self, messages):
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                raise serializers.ValidationError({str(index): "Each message must be an object."})
            role = message.get("role")
            if role not in ROLES:
                problem = "This field is required." if role is None else f'"{role}" is not a valid role.'
                raise serializers.ValidationError({str(index): {"role": problem}})
            content = message.get("content")
            if not (
                content is None
                or isinstance(content, str)
                or (isinstance(content, list) and all(isinstance(part, dict) for part in content))
            ):
                raise serializers.ValidationError(
                    {str(index): {"content": "Content must be a string or an array of content parts."}}
                )
        return messages

    def validate(self, data):
        data["stream"] = bool(data.get("stream"))
        data["n"] = data.get("n") or 1
        data["user"] = data.get("user") or ""
        data["prompt"] = last_user_text(data["messages"])
        if not data["prompt"]:
            raise serializers.ValidationError({"messages": "The last user message has no text to draw."})
        return data


def validate_image_count(value: int) -> int:
    limit = settings.MAX_IMAGES_PER_REQUEST
    if not 1 <= value <= limit:
        raise serializers.ValidationError(f"Ask for between 1 and {limit} images (got {value}).")
    return value


def validate_size_value(value: str) -> str:
    """ "" or "auto" (the text or the model decides) or WxH; anything else is refused, not guessed."""
    value = (value or "").strip().lower()
    if value in ("", "auto"):
        return ""
    if parse_size(value) is None:
        raise serializers.ValidationError(
            f"'{value}' is not a size: use WxH with sides between 64 and 4096 (e.g. 1024x576), or 'auto'."
        )
    return value


class ImageGenerationSerializer(serializers.Serializer):
    """OpenAI's POST /v1/images/generations body."""

    prompt = serializers.CharField(max_length=32000, trim_whitespace=True)
    model = serializers.CharField(max_length=200)
    n = serializers.IntegerField(required=False, allow_null=True, default=1)
    size = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=20, default="")
    response_format = serializers.ChoiceField(
        choices=["url", "b64_json"], required=False, allow_null=True, default="url"
    )
    quality = serializers.CharField(required=False, allow_null=True, max_length=20, default=None)
    style = serializers.CharField(required=False, allow_null=True, max_length=20, default=None)
    user = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200, default="")

    def validate_n(self, value):
        return None if value is None else validate_image_count(value)

    def validate_size(self, value):
        return validate_size_value(value)

    def validate(self, data):
        data["response_format"] = data.get("response_format") or "url"
        data["n"] = data.get("n") or 1
        data["size"] = data.get("size") or ""
        data["user"] = data.get("user") or ""
        return data


def last_user_text(messages: list[dict]) -> str:
    """The text of the last user message: a string, or the text parts of a content-part array."""
    for message in reversed(messages):
        if message["role"] != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content.strip()
        if isinstance(content, list):
            texts = [part.get("text", "") for part in content if part.get("type") in ("text", "input_text")]
            return "\n".join(text.strip() for text in texts if isinstance(text, str) and text.strip())
        return ""
    return ""
