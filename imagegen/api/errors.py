"""Every error the API returns has OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

import logging

from django.http import JsonResponse

log = logging.getLogger(__name__)

TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.error_type = error_type or TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "api_error")
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        return error_response(
            self.status,
            self.message,
            code=self.code,
            param=self.param,
            error_type=self.error_type,
            headers=self.headers,
        )


def error_body(message: str, *, error_type: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    error_type = error_type or TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "api_error")
    response = JsonResponse(error_body(message, error_type=error_type, code=code, param=param), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def method_not_allowed(request, allowed: tuple[str, ...], what: str | None = None) -> JsonResponse:
    return error_response(
        405,
        f"Method {request.method} is not allowed on {what or request.path}; use {', '.join(allowed)}.",
        code="method_not_allowed",
        headers={"Allow": ", ".join(allowed)},
    )


def not_found(request, exception=None):
    return error_response(404, f"Unknown path: {request.method} {request.path}", code="not_found")


def server_error(request):
    return error_response(500, "The server had an error while processing your request.", code="internal_error")


def bad_request(request, exception=None):
    return error_response(400, "Bad request.", code="bad_request")


def permission_denied(request, exception=None):
    return error_response(403, "Forbidden.", code="forbidden")
