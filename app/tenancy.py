"""The tenant transaction: the only door from a request to the database.

Every request that touches data runs in exactly one transaction whose first
statement switches to the caller's role and publishes the verified claims:

    BEGIN [READ ONLY]
    SELECT set_config('role', 'authenticated', true),
           set_config('request.jwt.claims', '{"sub": …}', true),
           set_config('application_name', 'creatoros <request id>', true), …
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
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from app.auth import API_ROLES, CurrentPrincipal, Principal
from app.observability import POOL_WAITING, request_id_var
from app.problems import is_connection_loss, unavailable

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
STATEMENT_TIMEOUT = "15s"

APPLICATION_NAME = "creatoros"

# One round trip: role, claims, a per-transaction statement timeout, and the
# request id as `application_name`, so `pg_stat_activity` and the server log
# (`%a`) tie a slow query to its request; all revert at COMMIT. The role is a
# bound parameter checked against the allow-list first; nothing from the
# request is ever interpolated into SQL. asyncpg's `$n` style: the benchmark's
# floor runs this very string.
SWITCH = (
    "SELECT set_config('role', $1, true),"
    " set_config('request.jwt.claims', $2, true),"
    " set_config('statement_timeout', $3, true),"
    " set_config('application_name', $4, true)"
)


def switch_args(principal: Principal, request_id: str | None) -> tuple[str, str, str, str]:
    """The parameters of SWITCH for this caller and request."""
    name = APPLICATION_NAME if request_id is None else f"{APPLICATION_NAME} {request_id}"
    return principal.role, principal.claims_json, STATEMENT_TIMEOUT, name


async def _switched(
    engine: AsyncEngine, principal: Principal, *, read_only: bool
) -> tuple[AsyncConnection, AsyncTransaction]:
    """A pooled connection in a new transaction, switched to `principal`.

    A pooled connection may have died while idle (the database restarted):
    that shows on the switch, before anything of the request ran, so the
    connection is dropped and the switch retried once on a new one. (SQLAlchemy
    then invalidates the rest of the pool too.) If the database is really
    down, the new connection fails fast and the caller answers 503."""
    args = switch_args(principal, request_id_var.get())
    for attempt in (1, 2):
        with POOL_WAITING.track_inprogress():
            conn = await engine.connect()
        try:
            if read_only:
                # asyncpg opens the transaction as BEGIN READ ONLY: no extra round trip.
                await conn.execution_options(postgresql_readonly=True)
            transaction = await conn.begin()
            await conn.exec_driver_sql(SWITCH, args)
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
    # For the access log and the problem map (an anonymous refusal is a 401).
    request.state.user_id = principal.user_id
    request.state.role = principal.role
    async with tenant_transaction(
        engine, principal, read_only=request.method in READ_ONLY_METHODS
    ) as conn:
        yield conn


TenantSession = Annotated[AsyncConnection, Depends(tenant_session, scope="function")]


async def fetch(conn: AsyncConnection, statement: str, *args: Any) -> list[Any]:
    """Run a read on the asyncpg connection under this tenant transaction
    (same connection, same transaction, same role and claims), skipping
    SQLAlchemy's execution layer: for the hot GETs, whose rows go straight to
    JSON. Rows are asyncpg `Record`s (by name or position). Errors come out as
    SQLAlchemy's `DBAPIError`, exactly as from `conn.execute`, so the problem
    map treats both paths alike."""
    fairy = await conn.get_raw_connection()
    try:
        return await fairy.driver_connection.fetch(statement, *args)  # type: ignore[union-attr, no-any-return]
    except Exception as error:
        try:
            fairy.dbapi_connection._handle_exception(error)  # type: ignore[union-attr]
        except Exception as translated:
            raise DBAPIError.instance(
                statement, args, translated, conn.dialect.loaded_dbapi.Error
            ) from error
        raise
