"""`Idempotency-Key` on creating POSTs: a repeat replays, never writes twice.

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
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.sessions import WriteSession
from app.http.problems import IdempotencyKeyInUse, IdempotencyKeyReused

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as Stripe and the IETF draft use
KEPT_HEADERS = ("location",)  # what a replay repeats besides status and body

M = TypeVar("M", bound=BaseModel)

_LOCK = text(
    "SELECT pg_try_advisory_xact_lock("
    "hashtextextended(public.idempotency_caller() || '/' || :key, 0))"
)
_FIND = text(
    "SELECT request_hash, status_code, response_body, response_headers"
    " FROM public.idempotency_keys"
    " WHERE caller = public.idempotency_caller() AND key = :key"
    " AND created_at > now() - interval '24 hours'"
)
# Expired keys are worth nothing: the caller's go before a new one is taken.
_PURGE = text(
    "DELETE FROM public.idempotency_keys"
    " WHERE caller = public.idempotency_caller() AND created_at <= now() - interval '24 hours'"
)
_RESERVE = text("INSERT INTO public.idempotency_keys (key, request_hash) VALUES (:key, :hash)")
_RECORD = text(
    "UPDATE public.idempotency_keys"
    " SET status_code = :status, response_body = :body, response_headers = :headers"
    " WHERE caller = public.idempotency_caller() AND key = :key"
).bindparams(bindparam("body", type_=JSONB), bindparam("headers", type_=JSONB))


class IdempotentReplay(Exception):
    """Raised by the dependency to answer with what the first request got."""

    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


async def _replay(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdempotentReplay)
    return JSONResponse(
        exc.body, status_code=exc.status, headers={**exc.headers, REPLAYED_HEADER: "true"}
    )


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
    """The request's key (None without the header) and where to record the answer."""

    conn: AsyncConnection | None
    key: str | None

    async def record(self, model: M, response: Response, status: int) -> M:
        """Store the answer beside the write (same transaction); returns `model`."""
        if self.conn is not None and self.key is not None:
            headers = {k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
            body = model.model_dump(mode="json")
            await self.conn.execute(
                _RECORD, {"key": self.key, "status": status, "body": body, "headers": headers}
            )
        return model


async def idempotency(
    request: Request,
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
        return Idempotency(None, None)
    if not (await conn.execute(_LOCK, {"key": key})).scalar_one():
        raise IdempotencyKeyInUse(
            f"a request with this {HEADER} is still being processed; retry shortly"
        )
    digest = request_hash(request.method, request.url.path, request.url.query, await request.body())
    stored = (await conn.execute(_FIND, {"key": key})).mappings().one_or_none()
    if stored is not None:
        if stored["request_hash"] != digest:
            raise IdempotencyKeyReused(
                f"this {HEADER} was used for a different request; use a new key"
            )
        if stored["status_code"] is not None:
            raise IdempotentReplay(
                stored["status_code"], stored["response_body"], stored["response_headers"]
            )
    await conn.execute(_PURGE)
    await conn.execute(_RESERVE, {"key": key, "hash": digest})
    return Idempotency(conn, key)


IdempotencyKey = Annotated[Idempotency, Depends(idempotency)]
