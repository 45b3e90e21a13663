"""RFC 9457 problem details: the one place where errors become HTTP answers.

Every ``ChatCustodyError`` maps to its ``http_status``; request validation errors to 422;
unknown routes and methods to 404/405; anything unexpected to a bare 500 (logged, with no
detail leaked). Integrity failures are logged loudly and never turned into success.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from chatcustody.errors import (
    AuthenticationError,
    ChatCustodyError,
    IntegrityError,
    LockedOutError,
    RateLimitedError,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("chatcustody.web")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str
    title: str
    status: int
    detail: str
    instance: str


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name.removesuffix("Error")).lower()


def problem(
    request: Request,
    status: int,
    detail: str,
    kind: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Return a problem details response."""
    body = {
        "type": kind,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _from_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChatCustodyError)
    headers: dict[str, str] = {}
    if isinstance(exc, LockedOutError | RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="chatcustody"'
    if isinstance(exc, IntegrityError):
        log.error("INTEGRITY FAILURE on %s: %s", request.url.path, exc)
    kind = f"urn:chatcustody:problem:{_slug(type(exc).__name__)}"
    return problem(request, exc.http_status, str(exc), kind, headers)


def _from_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    return problem(
        request, 422, detail or "invalid request", "urn:chatcustody:problem:invalid", errors=errors
    )


def _from_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(request, exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


def _from_anything(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    return problem(request, 500, "internal error (logged)")


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(ChatCustodyError, _from_error)
    app.add_exception_handler(RequestValidationError, _from_validation)
    app.add_exception_handler(HTTPException, _from_http)
    app.add_exception_handler(Exception, _from_anything)


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": HTTPStatus(status).phrase}
    for status in (400, 401, 403, 404, 409, 422, 429)
}
