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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth import API_ROLES, CurrentPrincipal, Principal

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


@asynccontextmanager
async def tenant_transaction(
    engine: AsyncEngine, principal: Principal, *, read_only: bool
) -> AsyncIterator[AsyncConnection]:
    """Open one transaction as `principal`; commit on success, roll back on error."""
    if principal.role not in API_ROLES:  # verified already; checked again at the door
        raise ValueError(f"role {principal.role!r} is not an API role")
    async with engine.connect() as conn:
        if read_only:
            # asyncpg opens the transaction as BEGIN READ ONLY: no extra round trip.
            await conn.execution_options(postgresql_readonly=True)
        async with conn.begin():
            await conn.execute(
                _SWITCH,
                {
                    "role": principal.role,
                    "claims": principal.claims_json,
                    "timeout": STATEMENT_TIMEOUT,
                },
            )
            yield conn


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
