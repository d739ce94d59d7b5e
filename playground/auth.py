"""The playground's way into the API: a staff member's Django session instead of a client key.

So the page holds no secret at all. A session counts only when the request has no ``Authorization``
header (a client key always wins), comes from a staff member, was sent by a page of this origin
(``Sec-Fetch-Site``, when the browser sends it), and, for anything but a read, passes Django's CSRF
check: an ``Origin`` of this site or of ``CSRF_TRUSTED_ORIGINS``, and the ``X-CSRFToken`` header
matching the CSRF cookie. Another site can make a browser send the session cookie, but not that header,
and it cannot read an answer (no CORS). The request then runs as the staff member's own client key row
(``playground.staff_keys``), so the ledger names them and the row's limits apply.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user
from rest_framework.authentication import BaseAuthentication, CSRFCheck
from rest_framework.exceptions import PermissionDenied

from core.db import run_db
from imagegen.client_keys import Caller, note_used
from playground.staff_keys import staff_caller

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def session_user(django_request):
    """The signed-in user, or None; run in the database thread. The API's paths skip Django's middleware
    (``imagegen.asgi``), so the session is opened here when the request has none; nothing is written back."""
    if not hasattr(django_request, "session"):
        engine = import_module(settings.SESSION_ENGINE)
        django_request.session = engine.SessionStore(django_request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = get_user(django_request)
    return user if user.is_authenticated else None


def _csrf_refusal(django_request) -> str:
    """Django's CSRF check (Origin, then the token) as a reason, or "" when it passes."""
    django_request.body  # noqa: B018  (read first: the check may parse a form body, which must stay readable)
    check = CSRFCheck(lambda request: None)
    check.process_request(django_request)
    refused = check.process_view(django_request, None, (), {})
    return refused or ""


def _access_refusal(django_request, user) -> str:
    if not (user.is_active and user.is_staff):
        return "Only staff may use the API through an admin session; other clients send a client key."
    fetch_site = django_request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        return "An admin session is accepted only from pages of this site."
    if django_request.method not in SAFE_METHODS:
        reason = _csrf_refusal(django_request)
        if reason:
            return f"CSRF check failed: {reason}"
    return ""


class StaffSessionAuthentication(BaseAuthentication):
    """DRF authentication: ``request.user`` becomes the staff member's playground :class:`Caller`.
    No session cookie, or a client key in the request: None, so ``ClientKeyAuthentication`` decides."""

    async def authenticate(self, request) -> tuple[Caller, None] | None:
        django_request = request._request
        if "Authorization" in django_request.headers:
            return None
        if settings.SESSION_COOKIE_NAME not in django_request.COOKIES:
            return None
        user = await run_db(session_user, django_request)
        if user is None:
            return None
        refusal = _access_refusal(django_request, user)
        if refusal:
            raise PermissionDenied(refusal)
        caller, refusal = await run_db(staff_caller, user)
        if caller is None:
            raise PermissionDenied(refusal)
        await note_used(caller)
        return caller, None
