"""The views' OpenAPI declarations, attached when the document is first built instead of at import.

drf-spectacular and the declarations in ``imagegen.api.openapi`` take about 27 MiB of every worker's
memory, for a document most workers never build. A view method decorated here is only noted; the
first build of ``/v1/openapi.json`` (``imagegen.api.contract``) imports the declarations and applies
each ``extend_schema`` to its method, as decorating it at import would have.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

_NOTED: list[tuple[Callable, str, str]] = []  # (view method, declarations module, declaration name)


def declared(module: str, name: str) -> Callable[[Callable], Callable]:
    def note(method: Callable) -> Callable:
        _NOTED.append((method, module, name))
        return method

    return note


def attach_declarations() -> None:
    """Decorate every noted method with its declaration (idempotent: each is attached once)."""
    while _NOTED:
        method, module, name = _NOTED.pop()
        getattr(importlib.import_module(module), name)(method)


DECLARATIONS = "imagegen.api.openapi"
chat_completions = declared(DECLARATIONS, "chat_completions")
image_generations = declared(DECLARATIONS, "image_generations")
list_models = declared(DECLARATIONS, "list_models")
list_styles = declared(DECLARATIONS, "list_styles")
health = declared(DECLARATIONS, "health")
health_ready = declared(DECLARATIONS, "health_ready")
document = declared(DECLARATIONS, "document")
image_edits = declared("imagegen.api.openapi_edits", "image_edits")
