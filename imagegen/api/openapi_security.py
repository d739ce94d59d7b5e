"""The client key as the document's security scheme. Imported only when the document is built:
drf-spectacular's extensions pull in DRF's test client, which no request needs."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ClientKeyScheme(OpenApiAuthenticationExtension):
    """The client key, as OpenAI's clients send theirs: ``Authorization: Bearer <key>``."""

    target_class = "imagegen.api.auth.ClientKeyAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A client key (AUTHORIZED_API_KEY or one made in admin).",
        }
