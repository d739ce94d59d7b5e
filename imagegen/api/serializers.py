"""Request validation for the OpenAI-compatible endpoints (DRF serializers, no ORM)."""

from __future__ import annotations

import copy

from django.conf import settings
from rest_framework import serializers

from imagegen.api.text import SafeText, error_at, long_prompt, reject_long_prompt, unsafe_text
from imagegen.input_images import ImageSource, check_count
from imagegen.size_from_text import parse_size

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
TEXT_PARTS = ("text", "input_text")  # a tuple: a part's "type" may be anything, even unhashable
IMAGE_PARTS = ("image_url", "input_image")
# Chat apps send the whole conversation; only the last user message is drawn, the rest is read
# for its shape alone. A bound all the same, so a body cannot be 100,000 tiny messages.
MAX_MESSAGES = 1000
OPTIMIZER_MODES = ("off", "fast", "reasoning")  # a request's prompt_optimizer (imagegen.optimizer_choice)
STYLE_CHARS = 50  # OpenAI's vivid / natural, or a style preset's name (at most 50 characters)
# Fields a chat client may also send inside "extra_body" (clients that pass it on as it is, not merged).
EXTRA_BODY_FIELDS = ("style", "prompt_optimizer")


def style_field():
    return SafeText(required=False, allow_blank=True, allow_null=True, max_length=STYLE_CHARS, default=None)


def prompt_optimizer_field():
    return serializers.ChoiceField(choices=OPTIMIZER_MODES, required=False, allow_null=True, default=None)


class LeanSerializer(serializers.Serializer):
    """A serializer whose fields are copied shallowly for each request. DRF deep-copies every declared
    field (its arguments, validators and choices) per instance, 3% of a completion's CPU; these
    fields keep no request state but what ``bind`` sets on the copy, and validation never awaits, so
    what the copies share (validators, a list field's child) is never used by two requests at once."""

    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class ChatCompletionSerializer(LeanSerializer):
    model = SafeText(max_length=200)
    # Checked in validate_messages rather than by a nested serializer: DRF copies a nested
    # serializer's fields for every request, and this endpoint is the hot path.
    messages = serializers.ListField(allow_empty=False, max_length=MAX_MESSAGES)
    # Clients often send null for what they leave at its default.
    stream = serializers.BooleanField(required=False, allow_null=True, default=False)
    stream_options = serializers.DictField(required=False, allow_null=True)
    size = SafeText(required=False, allow_blank=True, allow_null=True, max_length=20)
    n = serializers.IntegerField(required=False, allow_null=True, default=1)
    user = SafeText(required=False, allow_blank=True, allow_null=True, max_length=200, default="")
    style = style_field()
    prompt_optimizer = prompt_optimizer_field()
    extra_body = serializers.DictField(required=False, allow_null=True)

    def validate_n(self, value):
        return None if value is None else validate_image_count(value)

    def validate_size(self, value):
        return validate_size_value(value)

    def validate_stream_options(self, value):
        if value and not isinstance(value.get("include_usage"), bool | None):
            raise serializers.ValidationError({"include_usage": "Must be true, false or null."})
        return value

    def validate_messages(self, messages):
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                raise serializers.ValidationError({str(index): "Each message must be an object."})
            role = message.get("role")
            if not isinstance(role, str) or role not in ROLES:
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
        data["image_sources"] = image_sources(data["messages"])
        data["prompt"] = prompt_of(data["messages"], bool(data["image_sources"]))
        self.take_extra_body(data)
        return data

    def take_extra_body(self, data: dict) -> None:
        """style and prompt_optimizer from a literal "extra_body" object, where the body does not set them."""
        extra = data.get("extra_body") or {}
        for name in EXTRA_BODY_FIELDS:
            if data.get(name) is None and extra.get(name) is not None:
                try:
                    data[name] = self.fields[name].run_validation(extra[name])
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({"extra_body": {name: exc.detail}}) from exc


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


class ImageGenerationSerializer(LeanSerializer):
    """OpenAI's POST /v1/images/generations body."""

    prompt = SafeText(trim_whitespace=True, validators=[reject_long_prompt])
    model = SafeText(max_length=200)
    n = serializers.IntegerField(required=False, allow_null=True, default=1)
    size = SafeText(required=False, allow_blank=True, allow_null=True, max_length=20, default="")
    response_format = serializers.ChoiceField(
        choices=["url", "b64_json"], required=False, allow_null=True, default="url"
    )
    quality = SafeText(required=False, allow_null=True, max_length=20, default=None)
    style = style_field()
    prompt_optimizer = prompt_optimizer_field()
    user = SafeText(required=False, allow_blank=True, allow_null=True, max_length=200, default="")

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


def prompt_of(messages: list[dict], has_images: bool = False) -> str:
    """The text of the last user message, refused when it is empty, too long, or holds characters
    that cannot be sent or stored (the error names the message, and the part, at fault)."""
    where, pieces = last_user_message(messages)
    for param, text in pieces:
        if (problem := unsafe_text(text)) is not None:
            raise error_at(param, problem)
    prompt = "\n".join(text.strip() for _, text in pieces if text.strip())
    if not prompt and has_images:
        # Never a guess at what an image alone means (a variation? a restyle?): the client says it, and pays for that.
        raise error_at(
            where,
            "The last user message has an image but no text: say what to do with it "
            "(for example 'the same scene as a watercolour').",
        )
    if not prompt:
        raise serializers.ValidationError({"messages": "The last user message has no text to draw."})
    if (problem := long_prompt(prompt)) is not None:
        raise error_at(where, problem)
    return prompt


def last_user_message(messages: list[dict]) -> tuple[str, list[tuple[str, str]]]:
    """Where the last user message's content is (e.g. ``messages.3.content``), and (param, text) of
    each piece of its text: the content string, or its text parts."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] != "user":
            continue
        content, where = messages[index].get("content"), f"messages.{index}.content"
        if isinstance(content, str):
            return where, [(where, content)]
        if isinstance(content, list):
            return where, [
                (f"{where}.{number}.text", part["text"])
                for number, part in enumerate(content)
                if part.get("type") in TEXT_PARTS and isinstance(part.get("text"), str)
            ]
        return where, []
    return "messages", []


def image_sources(messages: list[dict]) -> list[ImageSource]:
    """The ``image_url`` parts of the last user message, in order (images of earlier messages are history)."""
    index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "user"), None)
    content = messages[index].get("content") if index is not None else None
    if not isinstance(content, list):
        return []
    found = []
    for number, part in enumerate(content):
        if part.get("type") not in IMAGE_PARTS:
            continue
        where = f"messages.{index}.content.{number}.image_url"
        value = part.get("image_url")
        url = value.get("url") if isinstance(value, dict) else value
        if not isinstance(url, str) or not url.strip():
            raise error_at(where, 'An image_url part needs {"url": "data:image/png;base64,..." or "https://..."}.')
        found.append(ImageSource(param=where, url=url))
    check_count(len(found), f"messages.{index}.content")
    return found


class ImageEditSerializer(ImageGenerationSerializer):
    """POST /v1/images/edits form fields; its files (``image`` / ``image[]``, ``mask``) are read by the view."""
