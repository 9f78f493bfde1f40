"""The request's tenant transaction, as FastAPI dependencies that also say who
may call: the session an endpoint takes names its auth requirement, so no
route needs a principal parameter it does not use.

    ReadSession       GET, anyone: no token reads as `anon` (published work only)
    UserReadSession   GET, a signed-in user (401 without a token)
    WriteSession      a write, a signed-in user; SQLAlchemy's connection
    WriteTransaction  the same write transaction as the door itself (`$n` SQL)

Reads go to a streaming replica when `DATABASE_READ_URL` names one (see
`app.db.replicas`): a read that sends back a write's consistency token
(`X-Consistency-Token`) only to one that has replayed it. Writes (and a GET
that takes the write transaction) always run on the primary, and a write
that commits answers with the token.

Each is used with `scope="function"`, so the COMMIT happens before the
response is sent: a failed commit answers with an error, never with a false
2xx. A route that takes `WriteSession` and `WriteTransaction` (or a
dependency that takes one, as `Idempotency-Key` does) gets one transaction:
FastAPI solves a dependency once per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth import AuthenticatedPrincipal, CurrentPrincipal, Principal
from app.db.replicas import Replicas, parse_lsn
from app.db.tenancy import TenantTransaction, tenant_door
from app.http.observability import CONSISTENCY_HEADER

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
_CONSISTENCY = CONSISTENCY_HEADER.decode()


def _publish(request: Request, principal: Principal) -> None:
    # For the access log and the problem map (an anonymous refusal is a 401).
    # (Each dependency opens its door itself: one wrapper less on every request.)
    request.state.user_id = principal.user_id
    request.state.role = principal.role


def _read_door(
    request: Request, principal: Principal
) -> AbstractAsyncContextManager[TenantTransaction]:
    """The read's door: on the primary, or (with replicas) where
    `app.db.replicas` says, given the caller's consistency token."""
    _publish(request, principal)
    state = request.app.state
    replicas: Replicas | None = state.replicas
    if replicas is None:
        return tenant_door(state.engine, principal, read_only=True)
    wanted = parse_lsn(request.headers.get(_CONSISTENCY))
    return tenant_door(state.engine, principal, read_only=True, replicas=replicas, wanted=wanted)


async def read_session(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[TenantTransaction]:
    """A READ ONLY tenant transaction as the caller, anonymous or not."""
    async with _read_door(request, principal) as door:
        yield door


async def user_read_session(
    request: Request, principal: AuthenticatedPrincipal
) -> AsyncIterator[TenantTransaction]:
    """A READ ONLY tenant transaction as a signed-in caller."""
    async with _read_door(request, principal) as door:
        yield door


async def write_transaction(
    request: Request, principal: AuthenticatedPrincipal
) -> AsyncIterator[TenantTransaction]:
    """A tenant transaction as a signed-in caller, with an SQLAlchemy
    connection for the services that still build SQL with it. READ ONLY
    should a GET or HEAD take it, whatever the endpoint then tries."""
    _publish(request, principal)
    engine: AsyncEngine = request.app.state.engine
    read_only = request.method in READ_ONLY_METHODS
    # With replicas, the answer carries the primary's WAL position after the
    # COMMIT, for the caller's next reads (`RequestContext` sends the header).
    wal_position = not read_only and request.app.state.replicas is not None
    async with tenant_door(
        engine, principal, read_only=read_only, sqlalchemy=True, wal_position=wal_position
    ) as door:
        yield door
    if door.position is not None:
        request.state.consistency_token = door.position


WriteTransaction = Annotated[TenantTransaction, Depends(write_transaction, scope="function")]


async def write_session(door: WriteTransaction) -> AsyncConnection:
    """The write transaction's SQLAlchemy connection."""
    assert door.connection is not None
    return door.connection


ReadSession = Annotated[TenantTransaction, Depends(read_session, scope="function")]
UserReadSession = Annotated[TenantTransaction, Depends(user_read_session, scope="function")]
WriteSession = Annotated[AsyncConnection, Depends(write_session)]
