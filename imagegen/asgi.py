import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")

import django  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402

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
    middleware the API does not use. Here the API's requests skip both: the little
    thread-sensitive work left (Django's request signals) runs on the process's one shared
    thread. The admin keeps the full stack (``GatewayASGIHandler``).
    """

    async def __call__(self, scope, receive, send):
        await self.handle(scope, receive, send)

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
