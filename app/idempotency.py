"""`Idempotency-Key` on POSTs (creating ones, restore, move): a repeat
replays, never writes twice.

A script that retried a POST after a timeout cannot tell whether the first
attempt went in. With a key, the service answers a repeat from what it
stored, in the tenant transaction (the only door to the database):

1. `pg_try_advisory_xact_lock` on (caller, key): taken by a request still
   running → 409, at once, instead of queueing behind it;
2. the stored key, if younger than 24 h: same request hash → the first
   answer (status, body, Location), nothing written; another hash → 422;
3. otherwise the caller's expired keys go and the key is reserved; the route
   writes, then `record()`s its answer in the same transaction, so the
   answer commits atomically with the write (a failed request leaves no key).

A dependency, not middleware: it needs the request's own transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.rows import fetchrow
from app.db.sessions import WriteSession
from app.db.tenancy import execute, fetchval
from app.http.caching import IfMatch, written
from app.http.compression import ETaggedResponse
from app.http.etags import digest
from app.http.problems import NO_STORE, IdempotencyKeyInUse, IdempotencyKeyReused

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as Stripe and the IETF draft use
KEPT_HEADERS = ("location", "etag")  # what a replay repeats besides status and body

M = TypeVar("M", bound=BaseModel)

# The statements, in asyncpg's `$n` style. $1 is always the key.
_LOCK = (
    "SELECT pg_try_advisory_xact_lock("
    "hashtextextended(public.idempotency_caller() || '/' || $1, 0))"
)
_FIND = (
    "SELECT request_hash, status_code, response_body, response_headers"
    " FROM public.idempotency_keys"
    " WHERE caller = public.idempotency_caller() AND key = $1"
    " AND created_at > now() - interval '24 hours'"
)
# Expired keys are worth nothing: the caller's go before a new one is taken.
_PURGE = (
    "DELETE FROM public.idempotency_keys"
    " WHERE caller = public.idempotency_caller() AND created_at <= now() - interval '24 hours'"
)
# $2 the request's hash.
_RESERVE = "INSERT INTO public.idempotency_keys (key, request_hash) VALUES ($1, $2)"
# $2 status, $3 body and $4 headers (JSON text).
_RECORD = (
    "UPDATE public.idempotency_keys"
    " SET status_code = $2, response_body = $3::JSONB, response_headers = $4::JSONB"
    " WHERE caller = public.idempotency_caller() AND key = $1"
)


class IdempotentReplay(Exception):
    """Raised by the dependency to answer with what the first request got."""

    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


async def _replay(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    headers = {**exc.headers, REPLAYED_HEADER: "true", "Cache-Control": NO_STORE}
    if exc.status == 204:  # no content: not even `null`
        return Response(status_code=204, headers=headers)
    return JSONResponse(exc.body, status_code=exc.status, headers=headers)


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, _replay)


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    """What "the same request" means: method, path, query and the JSON body
    (parsed, so key order and whitespace do not count)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


@dataclass
class Idempotency:
    """The request's key (None without the header), where to record the
    answer, and the response whose headers the answer carries."""

    conn: AsyncConnection | None
    key: str | None
    response: Response

    async def record(self, model: M, status: int) -> M:
        """Store the answer beside the write (same transaction); returns `model`."""
        await self._store(model.model_dump(mode="json"), status)
        return model

    async def record_answer(self, body: bytes, status: int, etag: str) -> None:
        """Store a write's answer as it was rendered (JSON bytes, not parsed
        again here) with its ETag: a repeat replays both, whatever its
        `If-Match` says now (the stored answer is the answer)."""
        if self.conn is not None and self.key is not None:
            headers = json.dumps({"ETag": f'"{etag}"'})
            await execute(self.conn, _RECORD, self.key, status, body.decode(), headers)

    async def no_content(self) -> None:
        """Store a 204 (no body) beside the write: a repeat replays the 204."""
        await self._store(None, 204)

    async def _store(self, body: Any, status: int) -> None:
        if self.conn is not None and self.key is not None:
            headers = {k: v for k, v in self.response.headers.items() if k.lower() in KEPT_HEADERS}
            await execute(
                self.conn, _RECORD, self.key, status, json.dumps(body), json.dumps(headers)
            )

    async def created(self, model: M, location: str) -> M:
        """A creating POST's answer (201): `Location` names the new resource,
        `ETag` is a GET's of it (the hash of the bytes the route renders: the
        creator can send `If-Match` at once), and the answer, both headers
        included, is recorded under the request's `Idempotency-Key` (if
        any), so that a repeat replays them."""
        self.response.headers["Location"] = location
        self.response.headers["ETag"] = etag_of(model)
        return await self.record(model, 201)


def etag_of(model: BaseModel) -> str:
    """The ETag of the answer of a route returning `model` as its response
    model: the hash of the bytes FastAPI renders (its JSON by alias, through
    JSONResponse), which a GET of the same row answers too (tests pin it)."""
    return f'"{digest(JSONResponse(model.model_dump(mode="json", by_alias=True)).body)}"'


async def idempotency(
    request: Request,
    response: Response,
    conn: WriteSession,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            pattern=KEY_PATTERN,
            description="Any unique string (a UUID) per intended write: a repeat "
            "with the same body replays the first answer without writing again; "
            "with another body it is refused (422); while the first still runs, 409. "
            "Kept 24 hours, per caller.",
        ),
    ] = None,
) -> Idempotency:
    if key is None:
        return Idempotency(None, None, response)
    if not await fetchval(conn, _LOCK, key):
        raise IdempotencyKeyInUse(
            f"a request with this {HEADER} is still being processed; retry shortly"
        )
    digest = request_hash(request.method, request.url.path, request.url.query, await request.body())
    stored = await fetchrow(conn, _FIND, key)
    if stored is not None:
        if stored["request_hash"] != digest:
            raise IdempotencyKeyReused(
                f"this {HEADER} was used for a different request; use a new key"
            )
        if stored["status_code"] is not None:
            raise IdempotentReplay(
                stored["status_code"], stored["response_body"], stored["response_headers"]
            )
    await execute(conn, _PURGE)
    await execute(conn, _RESERVE, key, digest)
    return Idempotency(conn, key, response)


IdempotencyKey = Annotated[Idempotency, Depends(idempotency)]


@dataclass(frozen=True)
class ConditionalWrite:
    """What a PATCH or DELETE of a versioned resource (a project, a content)
    takes, in one parameter: the write session, the request's `If-Match`
    (None without one) for the service to compare, and the key its answer
    is recorded under."""

    conn: AsyncConnection
    if_match: str | None
    idempotency: Idempotency

    async def answer(self, body: bytes) -> ETaggedResponse:
        """The write's 200: the bytes a GET now answers, with their ETag
        (`written`), recorded under the key so that a repeat replays both."""
        answer = written(body)
        await self.idempotency.record_answer(answer.body, 200, answer.digest)
        return answer

    async def no_content(self) -> None:
        """The write's 204, recorded under the key."""
        await self.idempotency.no_content()


async def conditional_write(
    conn: WriteSession, idempotency: IdempotencyKey, if_match: IfMatch = None
) -> ConditionalWrite:
    # FastAPI documents a dependency's own headers (If-Match) before those of
    # the dependencies it takes (the session's, Idempotency-Key), as it did
    # when each route took the three itself.
    return ConditionalWrite(conn, if_match, idempotency)


ConditionalWriteSession = Annotated[ConditionalWrite, Depends(conditional_write)]
