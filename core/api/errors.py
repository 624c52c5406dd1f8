"""IDM's error body ``{"code", "reason", "message"}`` and the mapping from sfsync's exceptions to it.

IDM clients (scripts written against a real IDM, the admin UI) read ``code`` and ``message``; they must get
the same shape and the same status for the same mistake here. Unexpected exceptions become a bare 500 whose
message says nothing about the code (no paths, no SQL, no secrets); the traceback goes to the server log.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from core.errors import SfsyncError

log = logging.getLogger("sfsync.api")


class ApiError(Exception):
    """An error answered to the client as IDM would, with ``status`` and a user-facing ``message``."""

    def __init__(self, status: int, message: str, *, detail: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers


def error_body(status: int, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The IDM error object; ``reason`` is the HTTP reason phrase, as IDM's CREST layer writes it."""
    body: dict[str, Any] = {"code": status, "reason": HTTPStatus(status).phrase, "message": message}
    if detail:
        body["detail"] = detail
    return body


def error_response(status: int, message: str, *, detail: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, detail), status_code=status, headers=headers)


def validation_detail(exc: BaseException) -> dict[str, Any] | None:
    """IDM's ``failedPolicyRequirements`` for a schema validation failure, one entry per failing field."""
    errors = getattr(exc, "errors", None)
    if not errors:
        return None
    failed = []
    for err in errors:
        field = getattr(err, "field", None) or str(err)
        message = getattr(err, "message", None) or str(err)
        failed.append({"property": str(field).lstrip("/"),
                       "policyRequirements": [{"policyRequirement": str(message)}]})
    return {"result": False, "failedPolicyRequirements": failed}


def to_api_error(exc: BaseException) -> ApiError:
    """Translate any exception into the ApiError the client sees."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, SfsyncError):  # each class names its status (core/errors.py draws the hierarchy)
        status = exc.http_status
        if status in (400, 409) and getattr(exc, "errors", None):
            return ApiError(status, str(exc), detail=validation_detail(exc))
        # a broken project file (ConfigError, 500) is the operator's problem: it names the file, no internals
        return ApiError(status, str(exc) or HTTPStatus(status).phrase)
    log.error("unexpected error answering a request", exc_info=exc)
    return ApiError(500, "Internal Server Error")


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    err = to_api_error(exc)
    return error_response(err.status, err.message, detail=err.detail, headers=err.headers)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404 (no route) and 405 (route, wrong method) in IDM's shape."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"Resource '{request.url.path.removeprefix('/openidm/')}' not found"
    elif status == 405:
        message = f"Method {request.method} not supported on {request.url.path}"
    else:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    return error_response(status, message, headers=dict(exc.headers or {}))
