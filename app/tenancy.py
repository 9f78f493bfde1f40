"""The tenant transaction: the only door from a request to the database.

Every request that touches data runs in exactly one transaction whose first
statement switches to the caller's role and publishes the verified claims:

    BEGIN [READ ONLY]
    SELECT set_config('role', 'authenticated', true),
           set_config('request.jwt.claims', '{"sub": …}', true), …
    … the endpoint's queries; RLS policies call current_mind_id() …
    COMMIT

`is_local = true` scopes both settings to this transaction, so a pooled
connection (or a transaction-mode pooler) never carries one tenant's identity
into another request. The login role itself has no privileges on any table:
a query that skipped the switch fails with "permission denied" instead of
running as someone else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from app.auth import API_ROLES, CurrentPrincipal, Principal
from app.problems import is_connection_loss, unavailable

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
STATEMENT_TIMEOUT = "15s"

# One round trip: role, claims and a per-transaction statement timeout. The
# role is a bound parameter checked against the allow-list first; nothing
# from the request is ever interpolated into SQL.
_SWITCH = text(
    "SELECT set_config('role', :role, true),"
    " set_config('request.jwt.claims', :claims, true),"
    " set_config('statement_timeout', :timeout, true)"
)


async def _switched(
    engine: AsyncEngine, principal: Principal, *, read_only: bool
) -> tuple[AsyncConnection, AsyncTransaction]:
    """A pooled connection in a new transaction, switched to `principal`.

    A pooled connection may have died while idle (the database restarted):
    that shows on the switch, before anything of the request ran, so the
    connection is dropped and the switch retried once on a new one. (SQLAlchemy
    then invalidates the rest of the pool too.) If the database is really
    down, the new connection fails fast and the caller answers 503."""
    params = {"role": principal.role, "claims": principal.claims_json, "timeout": STATEMENT_TIMEOUT}
    for attempt in (1, 2):
        conn = await engine.connect()
        try:
            if read_only:
                # asyncpg opens the transaction as BEGIN READ ONLY: no extra round trip.
                await conn.execution_options(postgresql_readonly=True)
            transaction = await conn.begin()
            await conn.execute(_SWITCH, params)
            return conn, transaction
        except Exception as exc:
            await _discard(conn)
            if attempt == 1 and is_connection_loss(exc):
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _discard(conn: AsyncConnection) -> None:
    """Never give a connection in an unknown state back to the pool."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


@asynccontextmanager
async def tenant_transaction(
    engine: AsyncEngine, principal: Principal, *, read_only: bool
) -> AsyncIterator[AsyncConnection]:
    """Open one transaction as `principal`; commit on success, roll back on error.

    Losing the database at any point (connecting, the switch, a query, the
    commit) raises the 503 problem; the connection is discarded, not pooled.
    A write is all-or-nothing: without a COMMIT that succeeded, PostgreSQL
    rolls it back."""
    if principal.role not in API_ROLES:  # verified already; checked again at the door
        raise ValueError(f"role {principal.role!r} is not an API role")
    try:
        conn, transaction = await _switched(engine, principal, read_only=read_only)
    except Exception as exc:
        if is_connection_loss(exc):
            raise unavailable() from exc
        raise
    try:
        yield conn
        await transaction.commit()
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError) or is_connection_loss(exc):
            # Mid-operation: its state is unknown (a cancelled query may still run).
            await _discard(conn)
            if not isinstance(exc, asyncio.CancelledError):
                raise unavailable() from exc
            raise
        if transaction.is_active:
            await transaction.rollback()
        raise
    finally:
        await conn.close()


async def tenant_session(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[AsyncConnection]:
    """FastAPI dependency: the request's tenant transaction.

    Used with `scope="function"`, so the commit happens before the response
    is sent: a failed commit answers with an error, never with a false 2xx.
    """
    engine: AsyncEngine = request.app.state.engine
    async with tenant_transaction(
        engine, principal, read_only=request.method in READ_ONLY_METHODS
    ) as conn:
        yield conn


TenantSession = Annotated[AsyncConnection, Depends(tenant_session, scope="function")]
