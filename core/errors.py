"""The root of the gateway's domain errors, and OpenAI's error shape.

Every failure a client hears about is a :class:`GatewayError` (or becomes one at the HTTP edge):
a message meant for people, the HTTP status, and OpenAI's ``code``, ``type`` and ``param``. Apps
subclass it for their own failures (``vendors.errors``, ``proxy``, the pipeline); the edge turns
any of them into ``{"error": {"message", "type", "param", "code"}}`` in one place.
"""

from __future__ import annotations

TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def type_for_status(status: int) -> str:
    return TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "api_error")


class GatewayError(Exception):
    """A failure the client is told about. Subclasses set ``status`` and ``code``; messages never hold a
    key or an upstream URL (build them from vendor text through ``core.redaction.scrub``).

    ``message`` is the client's text; ``detail`` the operator's (the ledger, the logs), which may say
    more, such as the host names a vendor's error named. It is the message unless set.
    """

    status: int = 500
    code: str | None = "internal_error"
    error_type: str | None = None  # None: follows the status (see TYPE_BY_STATUS)
    # Set by the pipeline when the failure came after a vendor may have made (and billed) images: a retry
    # with the same Idempotency-Key then gets this error again rather than paying a second time.
    vendor_may_have_billed: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.detail = message if detail is None else detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if error_type is not None:
            self.error_type = error_type
        self.param = param
        self.headers = dict(headers or {})

    @property
    def openai_type(self) -> str:
        return self.error_type or type_for_status(self.status)

    def body(self) -> dict:
        return error_body(self.message, error_type=self.openai_type, code=self.code, param=self.param)


def error_body(message: str, *, error_type: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}
