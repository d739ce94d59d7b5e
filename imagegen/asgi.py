import asyncio
import contextlib
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")

import django  # noqa: E402
from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.urls import set_script_prefix  # noqa: E402

from imagegen.observed import Observed  # noqa: E402

django.setup(set_prefix=False)  # before the views' modules, which read settings and models when imported

from imagegen.api import image_fast_path  # noqa: E402

# Paths served by async views that do their blocking work through core.db (the shared
# executor) and need no session, user, CSRF or messages.
API_PATH_PREFIXES = ("/v1/", "/images/", "/health", "/metrics")


class ApiASGIHandler(ASGIHandler):
    """Django's ASGI handler for the API paths: no middleware, no thread per waiting request.

    Stock Django gives every request an executor thread of its own for thread-sensitive work
    and keeps it until the request ends; its session, auth, messages and CSRF middleware hop to
    that thread twice each. A generation waits on its vendor for 2-60 s, so hundreds in flight
    would hold hundreds of idle threads, and every request would pay a dozen thread hops for
    middleware the API does not use. Here the API's requests skip both, and Django's request
    signals too: their receivers close the database connections and caches of the thread that
    answers, and the event loop's thread holds none (the ORM runs in ``core.db``'s threads, which
    manage their own connections), yet sending them cost two hops to a thread per request. The
    admin keeps the full stack (``GatewayASGIHandler``).
    """

    async def __call__(self, scope, receive, send):
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        """``ASGIHandler.handle`` without ``request_started``, and the response closed in the loop."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                error_response.close()
                return
            response = await self._respond_unless_abandoned(request, receive, send)
            if response is not None:
                response.close()  # sends request_finished: its receivers find nothing open in this thread
        finally:
            body_file.close()

    async def _respond_unless_abandoned(self, request, receive, send):
        """The response raced against the client leaving, as Django's handler does; None if it left first."""

        async def process_request():
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client left while it was sent
                await self.send_response(response, send)
            return response

        tasks = [asyncio.create_task(self.listen_for_disconnect(receive)), asyncio.create_task(process_request())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                with contextlib.suppress(RequestAborted):
                    task.result()
            else:
                task.cancel()  # lets a view handle its cancellation
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            return tasks[1].result()
        except asyncio.CancelledError:
            return None

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)


class GatewayASGIHandler(ASGIHandler):
    """Answers what it can of ``/images/`` itself (``imagegen.api.image_fast_path``), routes the API paths
    to ``ApiASGIHandler``; everything else (the admin, static files)
    goes through Django's handler with every middleware in settings.MIDDLEWARE."""

    def __init__(self):
        super().__init__()
        self.api = ApiASGIHandler()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(API_PATH_PREFIXES):
            if scope["path"].startswith("/images/") and await image_fast_path.serve(scope, send):
                return
            await self.api(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def get_asgi_application() -> Observed:
    """Every request gets its id and is counted (``imagegen.observed``), then is routed as above."""
    return Observed(GatewayASGIHandler())


application = get_asgi_application()
