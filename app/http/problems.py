"""Errors as `application/problem+json` (RFC 9457), never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar, Self

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.http.observability import request_id_var

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://creatoros.dev/problems/"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="creatoros"'}
# No cache keeps an error: a 401 or 404 stored by a CDN would answer the next
# caller, who may hold the token that reads the row.
NO_STORE = "no-store"


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
    """Raise from anywhere below a router to answer with a problem.

    Raise one of the kinds below, never this class itself: each kind says once
    what its status, `type` (PROBLEM_TYPE_BASE + slug) and headers are, so a
    call site only says what went wrong (`raise NotFound(f"content {id} ...")`)
    and a `type` cannot drift between two places that mean the same thing.
    The title is the status's phrase."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-server-error"
    headers: ClassVar[Mapping[str, str] | None] = None

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[dict[str, Any]] | None = None

    def with_errors(self, errors: list[dict[str, Any]]) -> Self:
        """Attach field-level issues (`loc`, `msg`, `type`), as for validation."""
        self.errors = errors
        return self

    def response(self) -> JSONResponse:
        return problem_response(
            self.status, self.detail, slug=self.slug, errors=self.errors, headers=self.headers
        )


class InternalError(ProblemError):
    """A bug: the trace is in the log, never in the answer."""


class InvalidToken(ProblemError):
    """No usable bearer token (RFC 6750: say how to authenticate).

    `error` is RFC 6750's error code, for a request that did send a token or
    an Authorization header: `invalid_token` (expired, forged, unknown key)
    tells a client to get a new token rather than retry; `invalid_request`
    a malformed header. Without credentials there is no code (section 3.1)."""

    status, slug, headers = 401, "invalid-token", WWW_AUTHENTICATE

    def __init__(self, detail: str | None = None, *, error: str | None = None) -> None:
        super().__init__(detail)
        self.error = error

    def response(self) -> JSONResponse:
        if self.error is None:
            return super().response()
        challenge = f'{WWW_AUTHENTICATE["WWW-Authenticate"]}, error="{self.error}"'
        return problem_response(
            self.status,
            self.detail,
            slug=self.slug,
            errors=self.errors,
            headers={"WWW-Authenticate": challenge},
        )


class Forbidden(ProblemError):
    """Row level security refused a change."""

    status, slug = 403, "forbidden"


class ReadOnly(ProblemError):
    """The caller can read the row but not change it."""

    status, slug = 403, "read-only"


class NoMind(ProblemError):
    """The caller's user has no mind, so owns nothing."""

    status, slug = 403, "no-mind"


class PersonaNotGranted(ProblemError):
    """A project names as persona a mind whose owner has not granted it to the
    caller (the projects' write policy, migration 0010, refused it)."""

    status, slug = 403, "persona-not-granted"


class RoleNotAllowed(ProblemError):
    status, slug = 403, "role-not-allowed"


class NotFound(ProblemError):
    """Missing, or invisible to the caller: the two are not told apart."""

    status, slug = 404, "not-found"


class ReadOnlyTransaction(ProblemError):
    """A write in a GET/HEAD (read-only) transaction."""

    status, slug = 405, "read-only-transaction"


class Conflict(ProblemError):
    """The same natural key exists, or a concurrent write got in the way."""

    status, slug = 409, "conflict"


class InUse(ProblemError):
    """Another row still refers to this one."""

    status, slug = 409, "in-use"


class InvalidStatusTransition(ProblemError):
    status, slug = 409, "invalid-status-transition"


class IdempotencyKeyInUse(ProblemError):
    status, slug, headers = 409, "idempotency-key-in-use", {"Retry-After": "1"}


class PreconditionFailed(ProblemError):
    """`If-Match` does not name the resource's current version: another
    write got in first (RFC 9110 13.1.1). Nothing was written."""

    status, slug = 412, "precondition-failed"


class PayloadTooLarge(ProblemError):
    status, slug = 413, "payload-too-large"


class ValidationFailed(ProblemError):
    """The request does not match the schema (with `errors` per field)."""

    status, slug = 422, "validation-error"


class ConstraintViolation(ProblemError):
    """A value the database's types or checks do not accept."""

    status, slug = 422, "constraint-violation"


class InvalidReference(ProblemError):
    """A referenced row does not exist (or the caller cannot see it)."""

    status, slug = 422, "invalid-reference"


class InvalidParent(ProblemError):
    status, slug = 422, "invalid-parent"


class Cycle(ProblemError):
    """A move would put a content below itself."""

    status, slug = 422, "cycle"


class InvalidTree(ProblemError):
    status, slug = 422, "invalid-tree"


class InvalidCursor(ProblemError):
    status, slug = 422, "invalid-cursor"


class InvalidQuery(ProblemError):
    status, slug = 422, "invalid-query"


class IdempotencyKeyReused(ProblemError):
    status, slug = 422, "idempotency-key-reused"


class ServiceUnavailable(ProblemError):
    """A service the API depends on (other than the database) cannot be reached."""

    status, slug = 503, "service-unavailable"


class NotReady(ProblemError):
    """Readiness: the database is unreachable or not at the head revision."""

    status, slug = 503, "not-ready"


class RetryLater(ProblemError):
    """Base of the 503s that pass by themselves: the same request is worth
    sending again after `Retry-After` seconds (1 unless a kind says longer).
    Each kind below only names itself."""

    status, headers = 503, {"Retry-After": "1"}


class Unavailable(RetryLater):
    """The database is lost (see is_connection_loss): reconnecting takes longer."""

    slug, headers = "unavailable", {"Retry-After": "2"}


class Busy(RetryLater):
    """This process holds as many big bodies as it may (BODY_BYTES_IN_FLIGHT)."""

    slug = "busy"


class QueryTimeout(RetryLater):
    slug = "timeout"


class Retry(RetryLater):
    """A serialization failure or deadlock: the same request may succeed now."""

    slug = "retry"


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
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
        headers={"Cache-Control": NO_STORE, **(headers or {})},
    )


async def _problem_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return exc.response()


# The order `Allow` lists methods in.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """`Allow` of a 405: every method some route of this path takes (one
    route per method here, where Starlette names only the first route's;
    asked of each route as the router itself asks, so included routers
    answer too), HEAD wherever GET is (app.http.caching.HeadAsGet serves it)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHOD_ORDER
        if method not in ("HEAD", "OPTIONS")
        and any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    if "GET" in allowed:
        allowed.insert(1, "HEAD")
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return problem_response(exc.status_code, detail, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
            # A body that is not JSON (or breaks app.http.bodies' policy) says why.
            "msg": f"{e['msg']}: {e['ctx']['error']}"
            if e["type"] == "json_invalid" and e.get("ctx", {}).get("error")
            else e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    return ValidationFailed("the request does not match the schema").with_errors(errors).response()


# The database is the authority: its answer, by SQLSTATE class or code, maps
# to a status, as PostgREST maps it. Messages are ours, never PostgreSQL's
# (they can name another tenant's constraint values).
_SQLSTATE_PROBLEMS: dict[str, tuple[type[ProblemError], str]] = {
    "23505": (Conflict, "a row with the same natural key (e.g. slug) already exists"),
    "23503": (InvalidReference, "a referenced row does not exist"),
    "23514": (ConstraintViolation, "a value is outside what the schema allows"),
    "23502": (ConstraintViolation, "a required value is missing"),
    "22001": (ConstraintViolation, "a value is too long"),
    # Program limit exceeded: e.g. a body with over 1 MB of distinct words,
    # more than a full-text document can hold.
    "54000": (ConstraintViolation, "a value is too large for the database to store or index"),
    "22003": (ConstraintViolation, "a number is out of range"),
    "22P02": (ConstraintViolation, "a value has the wrong format"),
    "22P05": (ConstraintViolation, "text contains a character PostgreSQL cannot store"),
    "22021": (ConstraintViolation, "text is not valid UTF-8"),
    "42501": (Forbidden, "row level security does not allow this change"),
    # A write attempted in a read-only (GET/HEAD) transaction.
    "25006": (ReadOnlyTransaction, "this method cannot change data"),
    "57014": (QueryTimeout, "the query took too long and was cancelled"),
    "40001": (Retry, "a concurrent change got in the way; retry the request"),
    "40P01": (Retry, "a concurrent change got in the way; retry the request"),
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
    return Unavailable(UNAVAILABLE_DETAIL)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    code = sqlstate_of(exc)
    if code == "42501" and getattr(request.state, "role", None) == "anon":
        # PostgREST: "insufficient privilege" for an anonymous caller means
        # "authenticate first", not "forbidden".
        return InvalidToken("this needs a bearer token").response()
    if code in _SQLSTATE_PROBLEMS:
        kind, detail = _SQLSTATE_PROBLEMS[code]
        return kind(detail).response()
    if any(isinstance(e, asyncpg.DataError) for e in _chain(exc)):
        # asyncpg could not encode a parameter (a date or number out of range).
        return ConstraintViolation("a value is out of the range the database accepts").response()
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if is_connection_loss(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return unavailable().response()
    # The trace goes to the log, never to the caller.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return InternalError("an unexpected error occurred; it has been logged").response()


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # A lost database in any form (see is_connection_loss): 503, not 500.
    for lost in (OSError, PoolTimeout, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(lost, _unexpected_error)
    app.add_exception_handler(Exception, _unexpected_error)
