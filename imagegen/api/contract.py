"""``GET /v1/openapi.json``: the published contract, built by drf-spectacular once per process.

The JSON endpoints are described by their declarations in ``imagegen.api.openapi``; image serving
is a plain Django view (it stays off DRF on its hot path), so :func:`add_image_files` adds its path
after generation (a spectacular postprocessing hook, named in settings). The document is built on
the first request, in a thread, and its bytes are kept for the life of the process.
"""

from __future__ import annotations

import json
from functools import cache

from django.http import HttpResponse

from core.db import run_blocking
from imagegen.api import openapi_later
from imagegen.api.drf import GatewayView


@cache
def document_bytes() -> bytes:
    # Imported here: drf-spectacular's generator and extensions load DRF's test client and Django's
    # test tools (about 0.15 s of every worker's start), which only building the document needs.
    from drf_spectacular.generators import SchemaGenerator

    from imagegen.api import openapi_security  # noqa: F401  (registers the bearer scheme)

    openapi_later.attach_declarations()

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":")).encode()


class OpenApiDocument(GatewayView):
    http_method_names = ["get"]
    authentication_classes = []
    permission_classes = []
    checks_edge = False  # no database or cache is needed to answer; the Host is checked below

    @openapi_later.document
    async def get(self, request) -> HttpResponse:
        request.get_host()  # raises DisallowedHost: a 400 invalid_host
        return HttpResponse(await run_blocking(document_bytes), content_type="application/json")


def image_file_operation(error_ref: dict) -> dict:
    from imagegen.api import openapi  # the declarations: loaded with the document only (openapi_later)

    def error(description: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": error_ref}}}

    image = {"schema": {"type": "string", "format": "binary"}}
    return {
        "operationId": "getImage",
        "tags": ["images"],
        "summary": "A stored image (no auth: the URL is the capability)",
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "ext", "in": "path", "required": True, "schema": {"type": "string", "example": "png"}},
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "The image, immutable: Cache-Control for a year, its SHA-256 as ETag.",
                "headers": {
                    "ETag": {"required": True, "schema": {"type": "string"}},
                    "Cache-Control": {"required": True, "schema": {"type": "string"}},
                },
                "content": {kind: image for kind in ("image/png", "image/jpeg", "image/webp", "image/gif")},
            },
            "304": {"description": "If-None-Match matched the ETag: no body."},
            "400": error(openapi.PLAIN_ERRORS[400]),
            "404": error("not_found: no stored image has this URL (token and extension)."),
            "410": error("image_removed (taken down by an operator) or image_expired (its retention ended)."),
            "503": error(openapi.PLAIN_ERRORS[503]),
            **{str(status): error(openapi.ERRORS[status]) for status in (408, 431, 500)},
        },
    }


def add_image_files(result: dict, generator, request, public) -> dict:
    """Postprocessing hook: the image files path, which no DRF view serves."""
    error_ref = {"$ref": "#/components/schemas/Error"}  # every JSON endpoint's errors define it
    result["paths"]["/images/{token}.{ext}"] = {"get": image_file_operation(error_ref)}
    return result


document = OpenApiDocument.as_view()
