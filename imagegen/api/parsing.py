"""How the JSON endpoints read bodies and pick a renderer (DRF parser and content negotiation).

Kept apart from the views: DRF's ``APIView`` reads these classes from settings when it is defined.
"""

from __future__ import annotations

import json

from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import BaseParser

from imagegen.api.errors import InvalidJson, InvalidRequest

# The deepest nesting a body may have. A chat body with content parts is 5 levels deep; Python's
# json parser gives up (RecursionError) somewhere near 1,000, and code that walks a parsed body
# recursively would give up sooner.
MAX_JSON_DEPTH = 32
TOO_DEEP = f"The request body is nested more than {MAX_JSON_DEPTH} levels deep."


class JsonObjectParser(BaseParser):
    """A JSON object body. An empty body is no object; anything unparsable names the JSON error."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        try:
            data = json.loads(stream.read() or b"null")
        except RecursionError:  # the C parser unwinds cleanly: this is only a very deep body
            raise InvalidRequest(TOO_DEEP) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJson(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        if nested_deeper_than(data, MAX_JSON_DEPTH):
            raise InvalidRequest(TOO_DEEP)
        return data


def nested_deeper_than(data: object, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels (walked level by level, no recursion)."""
    level = [data] if isinstance(data, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


class JsonNegotiation(BaseContentNegotiation):
    """Bodies without a Content-Type are read as JSON; answers are JSON whatever ``Accept`` says
    (streaming clients send ``Accept: text/event-stream`` and get their stream all the same)."""

    def select_parser(self, request, parsers):
        if not request.content_type:
            return parsers[0]
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
