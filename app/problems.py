"""Errors as `application/problem+json` (RFC 9457), never a stack trace."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.observability import request_id_var

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://creatoros.dev/problems/"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="creatoros"'}


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Path of the offending field, e.g. body.title.")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", examples=[PROBLEM_TYPE_BASE + "not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["content 3f… does not exist"])
    errors: list[ValidationIssue] | None = None
    request_id: str | None = Field(
        default=None,
        description="The request's id (also in the X-Request-ID header): quote it to operators.",
    )


PROBLEM_RESPONSE: dict[str, Any] = {
    "model": Problem,
    "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting each error status with the problem schema."""
    return {
        status: {**PROBLEM_RESPONSE, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


class ProblemError(Exception):
    """Raise from anywhere below a router to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.headers = headers
        self.errors: list[dict[str, Any]] | None = None

    def with_errors(self, errors: list[dict[str, Any]]) -> ProblemError:
        """Attach field-level issues (`loc`, `msg`, `type`), as for validation."""
        self.errors = errors
        return self


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body = Problem(
        type=PROBLEM_TYPE_BASE + (slug or phrase.lower().replace(" ", "-")),
        title=phrase,
        status=status,
        detail=detail,
        errors=[ValidationIssue(**e) for e in errors] if errors is not None else None,
        request_id=request_id_var.get(),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def _problem_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status, exc.detail, slug=exc.slug, errors=exc.errors, headers=exc.headers
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, detail, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
            # A body that is not JSON (or breaks app.bodies' policy) says why.
            "msg": f"{e['msg']}: {e['ctx']['error']}"
            if e["type"] == "json_invalid" and e.get("ctx", {}).get("error")
            else e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    return problem_response(
        422, "the request does not match the schema", slug="validation-error", errors=errors
    )


# The database is the authority: its answer, by SQLSTATE class or code, maps
# to a status, as PostgREST maps it. Messages are ours, never PostgreSQL's
# (they can name another tenant's constraint values).
_SQLSTATE_PROBLEMS: dict[str, tuple[int, str, str]] = {
    "23505": (409, "conflict", "a row with the same natural key (e.g. slug) already exists"),
    "23503": (422, "invalid-reference", "a referenced row does not exist"),
    "23514": (422, "constraint-violation", "a value is outside what the schema allows"),
    "23502": (422, "constraint-violation", "a required value is missing"),
    "22001": (422, "constraint-violation", "a value is too long"),
    "22003": (422, "constraint-violation", "a number is out of range"),
    "22P02": (422, "constraint-violation", "a value has the wrong format"),
    "22P05": (422, "constraint-violation", "text contains a character PostgreSQL cannot store"),
    "22021": (422, "constraint-violation", "text is not valid UTF-8"),
    "42501": (403, "forbidden", "row level security does not allow this change"),
    # A write attempted in a read-only (GET/HEAD) transaction.
    "25006": (405, "read-only-transaction", "this method cannot change data"),
    "57014": (503, "timeout", "the query took too long and was cancelled"),
    "40001": (503, "retry", "a concurrent change got in the way; retry the request"),
    "40P01": (503, "retry", "a concurrent change got in the way; retry the request"),
}
# Connection exceptions, insufficient resources (too many connections),
# operator intervention (shutdown, restart, cannot connect now).
_CONNECTION_CLASSES = ("08", "53", "57P")
# asyncpg's client-side errors that mean the connection is gone or unusable
# (not its DataError: a bad argument, which is the caller's 4xx).
_LOST_CONNECTION_MESSAGES = (
    "connection is closed",
    "connection was closed",
    "another operation is in progress",
    "connection has been released",
)

UNAVAILABLE_DETAIL = "the database is unavailable; retry shortly"
RETRY_AFTER_SECONDS = "2"


def sqlstate_of(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None), exc):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (`orig`) and what caused it, transitively."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def is_connection_loss(exc: BaseException) -> bool:
    """The database went away or cannot be reached (or the pool has no free
    connection in time): a retry later may succeed, so the answer is a 503.

    Covers the forms a loss takes on the way up: a SQLSTATE of class 08, 53
    or 57P (also raw asyncpg errors raised inside the connect hook), asyncpg's
    InterfaceError "connection is closed" and InternalClientError "another
    operation is in progress", an OSError or timeout while connecting, and
    whatever SQLAlchemy marked as a disconnect."""
    for current in _chain(exc):
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError | PoolTimeout | asyncpg.InternalClientError):
            return True  # OSError includes TimeoutError (a connect timeout)
        if (
            isinstance(current, asyncpg.InterfaceError)
            and not isinstance(current, asyncpg.DataError)
            and any(m in str(current) for m in _LOST_CONNECTION_MESSAGES)
        ):
            return True
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str) and code.startswith(_CONNECTION_CLASSES):
            return True
    return False


def unavailable() -> ProblemError:
    """The one answer to a lost database: 503 with Retry-After."""
    return ProblemError(
        503, UNAVAILABLE_DETAIL, slug="unavailable", headers={"Retry-After": RETRY_AFTER_SECONDS}
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    code = sqlstate_of(exc)
    if code == "42501" and getattr(request.state, "role", None) == "anon":
        # PostgREST: "insufficient privilege" for an anonymous caller means
        # "authenticate first", not "forbidden".
        return problem_response(
            401,
            "this needs a bearer token",
            slug="invalid-token",
            headers=WWW_AUTHENTICATE,
        )
    if code in _SQLSTATE_PROBLEMS:
        status, slug, detail = _SQLSTATE_PROBLEMS[code]
        headers = {"Retry-After": "1"} if status == 503 else None
        return problem_response(status, detail, slug=slug, headers=headers)
    if any(isinstance(e, asyncpg.DataError) for e in _chain(exc)):
        # asyncpg could not encode a parameter (a date or number out of range).
        return problem_response(
            422, "a value is out of the range the database accepts", slug="constraint-violation"
        )
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if is_connection_loss(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return await _problem_error(request, unavailable())
    # The trace goes to the log, never to the caller.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "an unexpected error occurred; it has been logged")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # A lost database in any form (see is_connection_loss): 503, not 500.
    for lost in (OSError, PoolTimeout, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(lost, _unexpected_error)
    app.add_exception_handler(Exception, _unexpected_error)
