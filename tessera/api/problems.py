"""RFC 9457 problem details: every error the API answers, in the CLI's words.

One human sentence in `detail`; `status` mirrors the HTTP status; an unexpected error is logged
with an id that the response carries, and never shows a traceback.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera.core.errors import (
    Conflict,
    DatabaseUnavailable,
    NotFound,
    PermissionDenied,
    SchemaOutOfDate,
    TesseraError,
)

log = logging.getLogger("tessera.api")
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None
    error_id: str | None = None


def _documented(status: int, what: str) -> dict[str, Any]:
    return {"description": what, "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}}


# The errors any endpoint may answer, documented once (OpenAPI must match what the server does).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented(400, "Malformed request (e.g. the body is not JSON, a bad If-Match)"),
    401: _documented(401, "No token, or an unknown, revoked or expired one"),
    403: _documented(403, "The token's user lacks a right"),
    404: _documented(404, "No such ticket, or one the token's user may not see"),
    409: _documented(409, "Conflicts with the current state"),
    412: _documented(412, "If-Match names an older version: nothing was changed"),
    413: _documented(413, "The body is over the limit"),
    415: _documented(415, "A body type this endpoint does not take"),
    422: _documented(422, "Understood but not acceptable: the field is named in `detail`"),
    503: _documented(503, "The database is unavailable; retry after Retry-After seconds"),
}


class ApiProblem(Exception):
    """An HTTP-level refusal (bad token, stale If-Match, body too large) with its sentence."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(exc: TesseraError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, DatabaseUnavailable | SchemaOutOfDate):
        return 503
    return 422  # InvalidInput and friends: understood, but not acceptable


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "the request"


async def on_tessera_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TesseraError)
    status = status_of(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return problem(status, exc.message, headers)


async def on_api_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem(exc.status, exc.detail, exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx")
        why = ctx.get("error", "cannot parse it") if isinstance(ctx, dict) else "cannot parse it"
        return problem(400, f"the body is not valid JSON ({why})")
    where = _field(tuple(first.get("loc", ())))
    message = str(first.get("msg", "is invalid"))
    if first.get("type") == "extra_forbidden":
        message = "is not a field this endpoint takes"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    fields = [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in errors]
    return problem(422, f"{where}: {message}{more}", errors=fields)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    given: object = exc.detail  # typed str, but FastAPI's HTTPException takes any detail
    detail = given if isinstance(given, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem(exc.status_code, detail, dict(exc.headers or {}))


def _database_failure(exc: BaseException) -> TesseraError | None:
    """Core's one-line error for a failure of the database anywhere in `exc`'s chain: SQLAlchemy's
    wrapped errors, psycopg's own, a session left needing a rollback by an earlier one."""
    from tessera.core.db_faults import database_error

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = database_error(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    failure = _database_failure(exc)
    if failure is not None:
        log.warning("%s %s: %s (%s)", request.method, request.url.path, failure.message, type(exc).__name__)
        return problem(503, failure.message, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    error_id = uuid.uuid4().hex[:12]
    log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return problem(
        500,
        f"internal error {error_id}: the server logged it; report this id to the desk's admin",
        error_id=error_id,
    )
