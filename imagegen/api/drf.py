"""The base of the JSON endpoints: one async DRF view and the request it reads.

The endpoints are adrf ``APIView``s: DRF's request cycle (authentication, permissions, parsing,
the exception handler in settings), run async so a request waiting on a vendor holds no thread.
The parser and content negotiation they use are in ``imagegen.api.parsing``.
"""

from __future__ import annotations

import asyncio
import io
from contextlib import nullcontext
from dataclasses import replace
from inspect import iscoroutinefunction

from adrf.requests import AsyncRequest
from adrf.views import APIView

from core import metrics
from imagegen import client_limits, idempotency
from imagegen.api import dependencies
from imagegen.api.errors import MethodNotAllowed
from imagegen.api.idempotent import Guard
from imagegen.generation import GenerationRequest


class GatewayRequest(AsyncRequest):
    def _load_stream(self):
        # The whole body through Django's ``body``: it enforces DATA_UPLOAD_MAX_MEMORY_SIZE (a 413),
        # and, unlike DRF's stream, also reads a chunked body that came without a Content-Length.
        self._stream = io.BytesIO(self._request.body)

    async def authenticate_async(self) -> None:
        """DRF's ``_authenticate``, awaiting async authenticators in the event loop."""
        for authenticator in self.authenticators:
            try:
                found = authenticator.authenticate(self)
                if iscoroutinefunction(authenticator.authenticate):
                    found = await found
            except Exception:  # DRF's own refusals, and the throttle's 429
                self._not_authenticated()
                raise
            if found is not None:
                self._authenticator = authenticator
                self.user, self.auth = found
                return
        self._not_authenticated()


class GatewayView(APIView):
    """Base of the JSON endpoints. Subclasses define async handlers and list them in ``http_method_names``."""

    # The health check answers whatever the Host (load balancers ask by address) and makes its own checks.
    checks_edge = True
    # Set by ``admit``: the client key's x-ratelimit headers, sent with whatever the request is answered.
    limit_headers: dict[str, str] = {}
    request_class: type[GatewayRequest] = GatewayRequest  # how the body is read (the edits form: MultipartRequest)

    async def admitted(self, generation: GenerationRequest, guard: Guard) -> GenerationRequest:
        """The generation with the client key's limits checked and reserved, before anything is sent to a
        vendor. Refused, the request's Idempotency-Key is given back: nothing was generated under it."""
        try:
            admission = await client_limits.admit(generation.caller, generation.n)
        except BaseException:
            if guard.ticket is not None:
                await asyncio.shield(idempotency.release(guard.ticket))
            raise
        self.limit_headers = admission.headers
        return replace(generation, admission=admission)

    async def check_edge(self, request) -> None:
        """Before anything else: the Host is one the gateway serves (a 400 invalid_host), and the
        database and the cache answer (a 503 within DEPENDENCY_CHECK_TIMEOUT)."""
        if self.checks_edge:
            request.get_host()  # raises DisallowedHost
            await dependencies.preflight()

    def initialize_request(self, request, *args, **kwargs):
        return self.request_class(
            request,
            parsers=self.get_parsers(),
            authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(),
            parser_context=self.get_parser_context(request),
        )

    async def async_dispatch(self, request, *args, **kwargs):
        """adrf's dispatch without its thread hops. adrf runs DRF's ``initial`` through
        ``sync_to_async`` and an async authenticator inside it through ``async_to_sync``: two
        thread switches per request, all requests of a process queueing on one thread. Here the
        edge checks come first, then the authenticator is awaited; ``initial`` then finds
        ``request.user`` set and runs its remaining checks (negotiation, permissions, throttles),
        which do no I/O, in the loop."""
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request, self.headers = request, self.default_response_headers
        try:
            await self.check_edge(request._request)
            # Timed where there is a client key to check (not the health check's polls).
            with metrics.stage("auth") if request.authenticators else nullcontext():
                await request.authenticate_async()
            self.initial(request, *args, **kwargs)
            method = request.method.lower()
            handler = getattr(self, method) if method in self.http_method_names else self.http_method_not_allowed
            response = await handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        for name, value in self.limit_headers.items():
            self.response.headers.setdefault(name, value)
        return self.response

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise MethodNotAllowed(request.method, request.path, tuple(self.allowed_methods))
