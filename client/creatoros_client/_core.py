"""What the sync and async clients share: how a request is built, when it is
retried and how long to wait, and how an answer becomes a value or an error.

Nothing here does I/O. A request is a `Call`; a multi-request operation (a
course save) is a `Flow`, a generator that yields calls and receives their
results. The two clients differ only in how they send a call and sleep
(`Client._send` / `AsyncClient._send`), so the policy lives here once.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from creatoros_client.models import Problem, _Request, _Response

T = TypeVar("T")

SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENCY_HEADER = "Idempotency-Key"
IF_MATCH_HEADER = "If-Match"
USER_AGENT = "creatoros-client/0.1"

Flow = Generator["Call[Any]", Any, T]
"""A multi-request operation: yields calls, receives each one's result."""


class CreatorOSError(Exception):
    """Base of the client's errors."""


class ApiError(CreatorOSError):
    """The API answered with an error: `.status` and the problem document
    (`.problem`: type, title, detail, errors)."""

    def __init__(self, status: int, problem: Problem, method: str = "", path: str = "") -> None:
        self.status = status
        self.problem = problem
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}{status} {problem.title}: {problem.detail or ''}".rstrip(": "))

    @property
    def transient(self) -> bool:
        """A server-side or rate-limit failure, worth trying again later
        (what the outbox queues); a 4xx is the caller's bug."""
        return self.status >= 500 or self.status == 429


class PreconditionFailed(ApiError):
    """412: the resource changed since the ETag sent as `if_match` (another
    editor saved first); nothing was written. Read it again, reapply the
    change, and send the new ETag. Never retried, never queued."""


class ApiUnreachable(CreatorOSError):
    """No answer at all: connection refused, DNS, timeouts (after retries)."""

    transient = True


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ApiUnreachable) or (isinstance(exc, ApiError) and exc.transient)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # A POST whose effect is the same however often it runs (restore, move).
    idempotent: bool = False

    @property
    def retryable(self) -> bool:
        """Safe to send again: idempotent methods, and POSTs carrying a key."""
        return self.method in SAFE_METHODS or self.idempotent or IDEMPOTENCY_HEADER in self.headers


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def returning(model: type[T] | Any) -> Callable[[httpx.Response], T]:
    """Read a JSON answer as `model` (a pydantic model or any type pydantic knows)."""
    adapter: TypeAdapter[T] = TypeAdapter(model)

    def parse(response: httpx.Response) -> T:
        value = adapter.validate_json(response.content)
        if isinstance(value, _Response):
            value.tagged(response.headers.get("etag"))
        return value

    return parse


def nothing(_: httpx.Response) -> None:
    return None


def body_of(data: BaseModel | Mapping[str, Any]) -> Any:
    """A request model or a plain mapping, as JSON."""
    if isinstance(data, _Request):
        return data.to_json()
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", exclude_unset=True)
    return dict(data)


def single(call: Call[T]) -> Flow[T]:
    """A one-request flow."""
    result: T = yield call
    return result


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total
    time (`budget`, seconds, including the requests themselves: with the API
    down, a write is given up on — and queued — within it)."""

    attempts: int = 6
    budget: float = 20.0
    base: float = 0.5
    cap: float = 8.0
    timeout: float = 30.0  # one request's limit, clipped to what is left of the budget

    def start(self) -> Attempts:
        return Attempts(self, time.monotonic())


@dataclass
class Attempts:
    """The retry state of one call: asked after each try how long to wait."""

    policy: RetryPolicy
    started: float
    made: int = 0

    def remaining(self) -> float:
        return self.policy.budget - (time.monotonic() - self.started)

    def request_timeout(self) -> httpx.Timeout:
        limit = max(0.5, min(self.policy.timeout, self.remaining()))
        return httpx.Timeout(limit, connect=min(limit, 5.0))

    def delay(self, call: Call[Any], outcome: httpx.Response | Exception) -> float | None:
        """Seconds to wait before trying again, or None to stop here."""
        self.made += 1
        if isinstance(outcome, httpx.Response) and outcome.status_code not in RETRY_STATUSES:
            return None
        if not call.retryable or self.made >= self.policy.attempts:
            return None
        wait = random.uniform(0, min(self.policy.cap, self.policy.base * 2 ** (self.made - 1)))  # noqa: S311
        if isinstance(outcome, httpx.Response):
            wait = max(wait, retry_after(outcome) or 0.0)
        return wait if wait < self.remaining() else None


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def outcome_value(call: Call[T], outcome: httpx.Response | Exception) -> T:
    """The call's final outcome (after retries) as its value, or the error."""
    if isinstance(outcome, Exception):
        raise ApiUnreachable(f"{call.method} {call.path}: {outcome!r}") from outcome
    if outcome.status_code == 412:
        raise PreconditionFailed(412, problem_of(outcome), call.method, call.path)
    if outcome.status_code >= 400:
        raise ApiError(outcome.status_code, problem_of(outcome), call.method, call.path)
    return call.parse(outcome)


def problem_of(response: httpx.Response) -> Problem:
    try:
        return Problem.model_validate_json(response.content)
    except ValidationError:
        # Not a problem document (a proxy's HTML page, say): keep what we can.
        text = response.text[:500] if response.content else None
        return Problem(
            title=response.reason_phrase or "Error", status=response.status_code, detail=text
        )


TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError,)

CONSISTENCY_HEADER = "X-Consistency-Token"
READ_METHODS = frozenset({"GET", "HEAD"})
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def _position(token: str) -> int | None:
    match = _LSN.fullmatch(token.strip())
    return None if match is None else (int(match[1], 16) << 32) | int(match[2], 16)


class Consistency:
    """Read-your-writes across the API's read replicas: a write's answer
    carries the primary's WAL position (`X-Consistency-Token`); the client
    keeps the newest one it was given and sends it with every read, and the
    API serves that read from a replica only once the replica has replayed
    it (else from the primary). So a read after a write always sees it."""

    __slots__ = ("_position", "token")

    def __init__(self) -> None:
        self.token: str | None = None
        self._position = -1

    def observe(self, response: httpx.Response) -> None:
        token = response.headers.get(CONSISTENCY_HEADER)
        if token is None:
            return
        position = _position(token)
        if position is not None and position > self._position:
            self._position, self.token = position, token

    def headers(self, method: str) -> dict[str, str]:
        if self.token is None or method not in READ_METHODS:
            return {}
        return {CONSISTENCY_HEADER: self.token}


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    call: Call[Any],
    token: str | None,
    attempts: Attempts,
    consistency: Consistency | None = None,
) -> httpx.Request:
    headers = {"User-Agent": USER_AGENT, **call.headers}
    if consistency is not None:
        headers.update(consistency.headers(call.method))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http.build_request(
        call.method,
        call.path,
        params={k: v for k, v in (call.params or {}).items() if v is not None},
        json=call.json,
        headers=headers,
        timeout=attempts.request_timeout(),
    )


TokenSource = str | Callable[[], str] | None


def current_token(token: TokenSource) -> str | None:
    """A fixed token, or a fresh one from the callable on every request."""
    return token() if callable(token) else token
