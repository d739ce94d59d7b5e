"""``/playground/``: the page. It is static HTML and JavaScript that call the gateway's own API with the
staff member's session (``playground.auth``); the view only checks who may see it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from core.db import run_db
from playground.auth import session_user

RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9")


@never_cache
async def page(request):
    """Anonymous: to the admin login and back. Signed in but not staff: 403. Staff: the page."""
    user = await run_db(session_user, request)
    if user is None:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not (user.is_active and user.is_staff):
        raise PermissionDenied
    context = {
        "username": user.get_username(),
        "csrf_token_value": get_token(request),  # also sets the CSRF cookie the API's check compares it with
        "ratios": RATIOS,
        "max_n": settings.MAX_IMAGES_PER_REQUEST,
    }
    return render(request, "playground/index.html", context)
