"""The one error edge: every failure becomes an OpenAI-shaped answer here, and only here.

The pipeline, the vendors and the image store raise domain errors (``core.errors.GatewayError``
and its subclasses); the edge's own checks raise the classes below; DRF and Django raise theirs.
:func:`openai_error` turns any of them into the ``GatewayError`` the client hears about. It backs
DRF's ``EXCEPTION_HANDLER`` for the JSON endpoints, the error event that ends a stream, the image
server and Django's error views alike. Anything it does not know is logged and becomes a plain 500.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from functools import wraps

import diskcache
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from redis import exceptions as redis_errors
from rest_framework import exceptions as drf

from core.errors import GatewayError

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "The server had an error while processing your request."
# How long a client is told to wait when a dependency is down: long enough not to hammer it,
# short enough that clients notice the recovery soon.
DEPENDENCY_RETRY_AFTER = 5
# What the database and the cache raise when they cannot be reached or do not answer in time
# (psycopg's pool timeout is an OperationalError, which Django re-raises as its own).
DATABASE_DOWN = (DatabaseOperationalError, DatabaseInterfaceError)
# Redis unreachable or silent; the embedded file cache's SQLite locked past its timeout, or its disk
# full or unreadable (diskcache raises sqlite3's own errors, not Django's).
CACHE_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, diskcache.Timeout, sqlite3.OperationalError)


class InvalidRequest(GatewayError):
    status, code = 400, "invalid_request"


class InvalidJson(GatewayError):
    status, code = 400, "invalid_json"


class MissingApiKey(GatewayError):
    status, code = 401, "invalid_api_key"

    def __init__(self) -> None:
        super().__init__("Missing API key: send it as 'Authorization: Bearer <key>'.")


class WrongApiKey(GatewayError):
    status, code = 401, "invalid_api_key"

    def __init__(self) -> None:
        super().__init__("Incorrect API key provided.")


class ExpiredApiKey(GatewayError):
    status, code = 401, "invalid_api_key"

    def __init__(self) -> None:
        super().__init__("This API key has expired; ask the gateway's operator for a new one.")


class InvalidHost(GatewayError):
    status, code = 400, "invalid_host"

    def __init__(self) -> None:
        super().__init__("The Host header names no host this gateway serves.")


class TooManyFailedAttempts(GatewayError):
    status, code = 429, "rate_limit_exceeded"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests with a wrong or missing API key from this address; try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(GatewayError):
    """A dependency (the database, the cache) is down: nothing was sent to a vendor."""

    status, code = 503, "service_unavailable"

    def __init__(self, dependency: str) -> None:
        super().__init__(
            f"The gateway's {dependency} is not answering; nothing was generated. Try again shortly.",
            headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER)},
        )


class NotFound(GatewayError):
    status, code = 404, "not_found"


class MethodNotAllowed(GatewayError):
    status, code = 405, "method_not_allowed"

    def __init__(self, method: str, where: str, allowed: tuple[str, ...]):
        methods = ", ".join(allowed)
        super().__init__(f"Method {method} is not allowed on {where}; use {methods}.", headers={"Allow": methods})


class RequestTooLarge(GatewayError):
    status, code = 413, "request_too_large"

    def __init__(self) -> None:
        super().__init__("The request body is too large.")


class UnsupportedMediaType(GatewayError):
    status, code = 415, "unsupported_media_type"

    def __init__(self) -> None:
        super().__init__("Send the body as JSON (Content-Type: application/json).")


def openai_error(exc: BaseException) -> GatewayError:
    """Any exception as the error the client is told about (unknown ones are logged as a 500)."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, DisallowedHost):
        return InvalidHost()
    if isinstance(exc, DATABASE_DOWN):
        log.error("the database is not answering (%s)", type(exc).__name__)
        return ServiceUnavailable("database")
    if isinstance(exc, CACHE_DOWN):
        log.error("the cache is not answering (%s)", type(exc).__name__)
        return ServiceUnavailable("cache")
    if isinstance(exc, drf.ValidationError):
        return invalid_request(exc.detail)
    if isinstance(exc, drf.NotAuthenticated):
        return MissingApiKey()
    if isinstance(exc, drf.AuthenticationFailed):
        return WrongApiKey()
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType()
    if isinstance(exc, Http404 | drf.NotFound):
        return NotFound("Not found.")
    if isinstance(exc, drf.APIException):
        headers = {"Retry-After": str(exc.wait)} if isinstance(exc, drf.Throttled) and exc.wait else None
        return GatewayError(str(exc.detail), status=exc.status_code, code=exc.default_code, headers=headers)
    log.error("unhandled error", exc_info=(type(exc), exc, exc.__traceback__))
    return GatewayError(INTERNAL_MESSAGE)


def invalid_request(errors) -> InvalidRequest:
    """A serializer's errors as one 400 naming the first field at fault."""
    param, message = first_error(errors)
    if message == "This field is required.":
        message = f"Missing required parameter: '{param}'."
    elif param:
        message = f"Invalid '{param}': {message}"
    return InvalidRequest(message, param=param or None)


def first_error(errors, prefix: str = "") -> tuple[str, str]:
    """(param, message) of the first validation error, with a dotted path such as messages.0.content."""
    if isinstance(errors, dict):
        for field_name, detail in errors.items():
            name = prefix if field_name == "non_field_errors" else f"{prefix}.{field_name}".lstrip(".")
            return first_error(detail, name)
    if isinstance(errors, list):
        for index, detail in enumerate(errors):
            if detail in ({}, [], None):
                continue
            if isinstance(detail, dict | list):
                return first_error(detail, f"{prefix}.{index}".lstrip("."))
            return prefix, str(detail)
    return prefix, str(errors)


def error_response(error: GatewayError) -> JsonResponse:
    return JsonResponse(error.body(), status=error.status, headers=error.headers)


def exception_handler(exc: Exception, context: dict) -> JsonResponse:
    """DRF's EXCEPTION_HANDLER."""
    return error_response(openai_error(exc))


View = Callable[..., Awaitable[HttpResponse]]


def answers_errors(view: View) -> View:
    """For the plain async views (image serving): any exception answered by :func:`openai_error`."""

    @wraps(view)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return await view(request, *args, **kwargs)
        except Exception as exc:
            return error_response(openai_error(exc))

    return wrapper


# Django's error views, for paths outside the API views (unknown paths, a broken request).
def not_found(request, exception=None):
    return error_response(NotFound(f"Unknown path: {request.method} {request.path}"))


def server_error(request):
    return error_response(GatewayError(INTERNAL_MESSAGE))


def bad_request(request, exception=None):
    if isinstance(exception, DisallowedHost):
        return error_response(InvalidHost())
    return error_response(GatewayError("Bad request.", status=400, code="bad_request"))


def permission_denied(request, exception=None):
    return error_response(GatewayError("Forbidden.", status=403, code="forbidden"))
