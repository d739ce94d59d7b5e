"""The base of the JSON endpoints: one async DRF view and the request it reads.

The endpoints are adrf ``APIView``s: DRF's request cycle (authentication, permissions, parsing,
the exception handler in settings), run async so a request waiting on a vendor holds no thread.
The parser and content negotiation they use are in ``imagegen.api.parsing``.
"""

from __future__ import annotations

import io

from adrf.requests import AsyncRequest
from adrf.views import APIView

from imagegen.api.errors import MethodNotAllowed


class GatewayRequest(AsyncRequest):
    def _load_stream(self):
        # The whole body through Django's ``body``: it enforces DATA_UPLOAD_MAX_MEMORY_SIZE (a 413),
        # and, unlike DRF's stream, also reads a chunked body that came without a Content-Length.
        self._stream = io.BytesIO(self._request.body)


class GatewayView(APIView):
    """Base of the JSON endpoints. Subclasses define async handlers and list them in ``http_method_names``."""

    def initialize_request(self, request, *args, **kwargs):
        return GatewayRequest(
            request,
            parsers=self.get_parsers(),
            authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(),
            parser_context=self.get_parser_context(request),
        )

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise MethodNotAllowed(request.method, request.path, tuple(self.allowed_methods))
