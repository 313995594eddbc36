"""One JSON error shape for every failure of the HTTP API, and the handlers that produce it.

Every error body is ``{"error": {"code": "...", "message": "..."}}``: request validation
(FastAPI/pydantic), HTTP errors raised by the router (404, 405), the product's own exceptions
(`WalletbotError` and its subclasses, mapped to a status below) and, as a last resort, anything
unexpected (500, without internals, answered by `RequestIdMiddleware`). Clients switch on `code`;
`message` is for people. A 5xx body also has `request_id`, the id of its one log line.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.api import schemas
from bot.errors import ConfigError, ContentError, WalletbotError
from bot.request_ids import current_id, note_failure
from bot.store.errors import StoreError


class ApiError(WalletbotError):
    """A request the HTTP layer itself refuses (too long, too many, not ready); its status comes
    from ``code`` through ``STATUS_BY_CODE``, like every other product error's."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, code=code)
        self.headers = headers or {}


# The one place a product error's code becomes an HTTP status (the console has its own, for
# its pages: bot.console.errors). A code missing here is a 500, logged as unmapped.
STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "unknown_payload": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "invalid_transition": 409,
    "user_exists": 409,
    "message_too_long": 413,
    "invalid_message": 422,
    "unknown_brand": 422,
    "rate_limited": 429,
    "not_ready": 503,
    "model_not_ready": 503,
    "store_failed": 503,
    "config_invalid": 500,
    "content_invalid": 500,
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The error body; a 5xx also carries the request id, which the log line of the failure has."""
    error = {"code": code, "message": message}
    request_id = current_id()
    if status >= 500 and request_id:
        error["request_id"] = request_id
    return JSONResponse({"error": error}, status_code=status, headers=headers)


# OpenAPI: the error responses a route can give, all with the same body. Declaring 422 here
# also replaces FastAPI's default 422 (`HTTPValidationError`), a shape this API never sends.
ERROR_DESCRIPTIONS = {
    400: "Invalid JSON, unreadable body or a button payload that is not valid now",
    403: "Missing or wrong conversation token (`forbidden`)",
    404: "Unknown conversation (`not_found`)",
    413: "Message or body too long (`message_too_long`, `body_too_large`)",
    422: "Invalid request: empty message, missing or unknown field, unknown brand or a value out of range",
    429: "Rate limit reached (`rate_limited`); see the Retry-After header",
    500: "Unexpected failure or misconfiguration (`internal_error`, `server_misconfigured`)",
    503: "Model or database not ready (`not_ready`, `model_not_ready`, `database_unavailable`)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": schemas.ErrorBody, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "text") -> "text"; a bare ("body",) is the body itself.
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path")]
    return ".".join(parts)


def _validation_error(errors: list[dict[str, Any]]) -> tuple[int, str, str]:
    """(status, code, message) for the first of pydantic's errors, worded for a client."""
    first = errors[0]
    kind, field, msg = first.get("type", ""), _field(tuple(first.get("loc", ()))), first.get("msg", "")
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return 400, "invalid_json", f"The request body is not valid JSON ({reason}): send a JSON object."
    if kind == "extra_forbidden":
        return 422, "unknown_field", f"Unknown field '{field}': remove it (see /docs for the fields)."
    if kind in (
        schemas.EMPTY_MESSAGE,
        schemas.TEXT_AND_PAYLOAD,
        schemas.MISSING_MESSAGE,
        schemas.MISSING_CONVERSATION,
    ):
        return 422, kind, msg
    if kind == "missing" and not field:
        return 422, "missing_body", "The request needs a JSON object as its body."
    if kind == "missing":
        return 422, "missing_field", f"Field '{field}' is required."
    if not field:
        return (
            422,
            "invalid_body",
            (f"The request body must be a JSON object sent as Content-Type: application/json ({msg})."),
        )
    value = first.get("input")
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return 422, "invalid_field", f"Field '{field}' is invalid: {msg} (got {shown})."


def _walletbot_error(exc: WalletbotError) -> tuple[int, str, str]:
    """(status, code, message) of a product error: the status from its code; failures of the
    service itself are logged and answered without their internals."""
    status = STATUS_BY_CODE.get(exc.code)
    if status is None:
        note_failure(f"unmapped product error {type(exc).__name__} ({exc.code}): {exc}", exc)
        return 500, "internal_error", "Something went wrong on our side: try again shortly."
    if isinstance(exc, StoreError) and exc.code == StoreError.code:
        note_failure(f"database failure: {exc}")
        return status, "database_unavailable", "The database is not available right now: try again shortly."
    if isinstance(exc, (ConfigError, ContentError)):
        note_failure(f"configuration or content problem: {exc}")
        return status, "server_misconfigured", "The service is misconfigured: the operator has been told."
    if status >= 500 and isinstance(exc, ApiError):
        note_failure(str(exc))
    return status, exc.code, str(exc)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


async def _on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, code, message = _validation_error(list(exc.errors()))
    return error_response(status, code, message)


async def _on_walletbot(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WalletbotError)
    status, code, message = _walletbot_error(exc)
    headers = exc.headers if isinstance(exc, ApiError) else None
    return error_response(status, code, message, headers)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    if exc.status_code == 404:
        message = f"No such resource: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    elif exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI raises this when the body cannot be decoded, e.g. bytes that are not UTF-8.
        code = "invalid_body"
        message = "The request body could not be read: send a UTF-8 encoded JSON object."
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure through the one error shape."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(WalletbotError, _on_walletbot)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    # Anything else is caught, logged once and answered by bot.request_ids.RequestIdMiddleware.
