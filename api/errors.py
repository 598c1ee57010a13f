"""Error responses that read well: ``{"detail": "text: must not be empty"}``, not a nested structure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.crud import ConversationNotFound
from api.handoffs import HandoffConflict, HandoffNotFound
from api.ratelimit import RateLimitError

_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_MESSAGES = {
    "missing": "field required",
    "json_invalid": "invalid JSON",
    "extra_forbidden": "unexpected field",
    "model_attributes_type": "expected a JSON object (sent with Content-Type: application/json)",
}
_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def _field_name(loc: Sequence[Any], error_type: str) -> str:
    """Return the dotted name of the field an error is about (``text``, ``after``, ``body``…)."""
    parts = [str(part) for part in loc]
    if error_type == "json_invalid":
        return parts[0] if parts else "body"
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "request"


def _message(error: Mapping[str, Any]) -> str:
    """Return the human-readable message of one validation error."""
    error_type = str(error.get("type", ""))
    if error_type in _MESSAGES:
        return _MESSAGES[error_type]
    message = str(error.get("msg", "invalid value"))
    for prefix in _VALUE_ERROR_PREFIXES:
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """Summarise validation errors in one line, e.g. ``"text: must not be empty; after: …"``.

    Args:
        errors: Pydantic's errors (``RequestValidationError.errors()``).

    Returns:
        One ``field: message`` per error, separated by ``"; "``.
    """
    described = [
        f"{_field_name(error.get('loc', ()), str(error.get('type', '')))}: {_message(error)}"
        for error in errors
    ]
    return "; ".join(dict.fromkeys(described)) or "invalid request"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """Answer 422 with a one-line ``detail`` and the errors' locations and types in ``errors``."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": describe_validation_errors(errors),
            "errors": jsonable_encoder(
                [
                    {"loc": error.get("loc", ()), "msg": _message(error), "type": error.get("type")}
                    for error in errors
                ]
            ),
        },
    )


async def _rate_limited(_request: Request, exc: Exception) -> JSONResponse:
    """Answer 429 with a readable ``detail`` and ``Retry-After`` (whole seconds)."""
    assert isinstance(exc, RateLimitError)
    return JSONResponse(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        content={"detail": str(exc)},
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _conversation_not_found(_request: Request, exc: Exception) -> JSONResponse:
    """Answer 404 for a conversation id that names no conversation."""
    assert isinstance(exc, ConversationNotFound)
    return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": "No such conversation."})


async def _handoff_not_found(_request: Request, exc: Exception) -> JSONResponse:
    """Answer 404 for a handoff id that names no handoff."""
    assert isinstance(exc, HandoffNotFound)
    return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": "No such handoff."})


async def _handoff_conflict(_request: Request, exc: Exception) -> JSONResponse:
    """Answer 409 when a handoff cannot change as asked (another agent has it, it is closed…)."""
    assert isinstance(exc, HandoffConflict)
    return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": str(exc)})


async def _unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    """Answer 500 in JSON; the traceback is logged by the server, never shown to the client."""
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, content={"detail": "Internal error."}
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the API's error handlers on an application.

    Args:
        app: The application.
    """
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RateLimitError, _rate_limited)
    app.add_exception_handler(ConversationNotFound, _conversation_not_found)
    app.add_exception_handler(HandoffNotFound, _handoff_not_found)
    app.add_exception_handler(HandoffConflict, _handoff_conflict)
    app.add_exception_handler(Exception, _unexpected_error)
