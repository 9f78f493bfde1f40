"""The request's tenant transaction, as FastAPI dependencies that also say who
may call: the session an endpoint takes names its auth requirement, so no
route needs a principal parameter it does not use.

    ReadSession       GET, anyone: no token reads as `anon` (published work only)
    UserReadSession   GET, a signed-in user (401 without a token)
    WriteSession      a write, a signed-in user; SQLAlchemy's connection
    WriteTransaction  the same write transaction as the door itself (`$n` SQL)

Each is used with `scope="function"`, so the COMMIT happens before the
response is sent: a failed commit answers with an error, never with a false
2xx. A route that takes `WriteSession` and `WriteTransaction` (or a
dependency that takes one, as `Idempotency-Key` does) gets one transaction:
FastAPI solves a dependency once per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth import AuthenticatedPrincipal, CurrentPrincipal, Principal
from app.db.tenancy import TenantTransaction, tenant_door

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


def _publish(request: Request, principal: Principal) -> None:
    # For the access log and the problem map (an anonymous refusal is a 401).
    # (Each dependency opens its door itself: one wrapper less on every request.)
    request.state.user_id = principal.user_id
    request.state.role = principal.role


async def read_session(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[TenantTransaction]:
    """A READ ONLY tenant transaction as the caller, anonymous or not."""
    _publish(request, principal)
    async with tenant_door(request.app.state.engine, principal, read_only=True) as door:
        yield door


async def user_read_session(
    request: Request, principal: AuthenticatedPrincipal
) -> AsyncIterator[TenantTransaction]:
    """A READ ONLY tenant transaction as a signed-in caller."""
    _publish(request, principal)
    async with tenant_door(request.app.state.engine, principal, read_only=True) as door:
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
    async with tenant_door(engine, principal, read_only=read_only, sqlalchemy=True) as door:
        yield door


WriteTransaction = Annotated[TenantTransaction, Depends(write_transaction, scope="function")]


async def write_session(door: WriteTransaction) -> AsyncConnection:
    """The write transaction's SQLAlchemy connection."""
    assert door.connection is not None
    return door.connection


ReadSession = Annotated[TenantTransaction, Depends(read_session, scope="function")]
UserReadSession = Annotated[TenantTransaction, Depends(user_read_session, scope="function")]
WriteSession = Annotated[AsyncConnection, Depends(write_session)]
