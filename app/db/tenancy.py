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

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.pool import PoolProxiedConnection

from app.auth import API_ROLES, CurrentPrincipal, Principal
from app.http.observability import POOL_WAITING, request_id_var
from app.http.problems import is_connection_loss, unavailable

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
STATEMENT_TIMEOUT = "15s"

APPLICATION_NAME = "creatoros"

# One round trip: role, claims, a per-transaction statement timeout, and the
# request id as `application_name`, so `pg_stat_activity` and the server log
# (`%a`) tie a slow query to its request; all revert at COMMIT. The role is
# checked against the allow-list first. Writes bind the four values as `$n`
# parameters (SWITCH); reads send them as exact literals together with BEGIN
# (`begin_read_switched`). Nothing else from the request is put into SQL.
# The benchmark's floor runs these very strings.
_SWITCH_TEMPLATE = (
    "SELECT set_config('role', {0}, true),"
    " set_config('request.jwt.claims', {1}, true),"
    " set_config('statement_timeout', {2}, true),"
    " set_config('application_name', {3}, true)"
)
SWITCH = _SWITCH_TEMPLATE.format("$1", "$2", "$3", "$4")


def sql_literal(value: str) -> str:
    """`value` as a PostgreSQL string constant, exact whatever it holds.

    The escape-string form (E'…') with every backslash and quote doubled
    means the same under any `standard_conforming_strings`; PostgreSQL text
    cannot hold NUL, so a value with one is refused rather than cut."""
    if "\x00" in value:
        raise ValueError("a PostgreSQL string cannot contain NUL")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def begin_read_switched(args: tuple[str, str, str, str]) -> str:
    """BEGIN READ ONLY and SWITCH as one simple-protocol query (two statements,
    one round trip): the read path's first message. Bound parameters need the
    extended protocol, which carries one statement per round trip, and each
    round trip (a socket write and a wake-up) was a large share of a content
    get's CPU: BEGIN, SWITCH, SELECT, COMMIT were four, now three. So the
    switch's values go in as literals, each through `sql_literal`. The role
    is one of API_ROLES, the claims are the verified token's JSON, the rest
    is ours."""
    return "BEGIN READ ONLY; " + _SWITCH_TEMPLATE.format(*map(sql_literal, args))


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


def _publish(request: Request, principal: Principal) -> None:
    # For the access log and the problem map (an anonymous refusal is a 401).
    request.state.user_id = principal.user_id
    request.state.role = principal.role


async def tenant_session(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[AsyncConnection]:
    """FastAPI dependency: the request's tenant transaction.

    Used with `scope="function"`, so the commit happens before the response
    is sent: a failed commit answers with an error, never with a false 2xx.
    """
    engine: AsyncEngine = request.app.state.engine
    _publish(request, principal)
    async with tenant_transaction(
        engine, principal, read_only=request.method in READ_ONLY_METHODS
    ) as conn:
        yield conn


TenantSession = Annotated[AsyncConnection, Depends(tenant_session, scope="function")]


# ---- the read path: the same transaction, straight on asyncpg ---------------------------


class ReadConnection:
    """A read-only tenant transaction run on the pooled connection's asyncpg
    driver: BEGIN READ ONLY, SWITCH, the reads and COMMIT go to asyncpg
    directly, with none of SQLAlchemy's execution layer (its greenlet hops,
    result wrapping and transaction bookkeeping cost more CPU than a content
    get's database work).

    The connection is checked out of the engine's pool, the only pool: its
    size, timeouts, connect hook (`guard_login_role`), pooler settings
    (`DB_POOLER_MODE`: asyncpg's own statement cache off, so every statement
    is the unnamed one) and the pool gauges apply unchanged. (asyncpg's own
    `Pool` would have doubled the connections a process holds and added a
    reset round trip to every release.) Errors come out as SQLAlchemy's
    `DBAPIError`, as from the write path, so the problem map treats both alike.
    """

    __slots__ = ("_dbapi_error", "_fairy", "driver")

    def __init__(self, fairy: PoolProxiedConnection, dbapi_error: type[Exception]) -> None:
        self.driver: asyncpg.Connection = fairy.driver_connection  # type: ignore[assignment]
        self._fairy = fairy
        self._dbapi_error = dbapi_error

    async def fetch(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return await self.driver.fetch(statement, *args)
        except Exception as error:
            raise _translated(self._fairy, statement, args, error, self._dbapi_error) from error


def _translated(
    fairy: PoolProxiedConnection,
    statement: str,
    args: tuple[Any, ...],
    error: Exception,
    dbapi_error: type[Exception],
) -> BaseException:
    """A raw asyncpg error as SQLAlchemy would have raised it: DBAPIError
    wrapping the dialect's translation (same SQLSTATE, same disconnect tests)."""
    try:
        fairy.dbapi_connection._handle_exception(error)  # type: ignore[union-attr]
    except Exception as translated:
        return DBAPIError.instance(statement, args, translated, dbapi_error)
    return error  # pragma: no cover - _handle_exception always raises


async def _begin_read(engine: AsyncEngine, args: tuple[str, str, str, str]) -> ReadConnection:
    """A pooled connection in a new READ ONLY transaction, switched.

    As `_switched`: a connection that died while idle shows on BEGIN or the
    switch; it is dropped, the pool's older connections are marked stale (as
    SQLAlchemy does when it sees a disconnect), and the switch is retried
    once on a new one."""
    dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
    begin = begin_read_switched(args)
    for attempt in (1, 2):
        with POOL_WAITING.track_inprogress():
            fairy = await engine.raw_connection()
        driver: asyncpg.Connection = fairy.driver_connection  # type: ignore[assignment]
        try:
            await driver.execute(begin)
            return ReadConnection(fairy, dbapi_error)
        except Exception as exc:
            lost = is_connection_loss(exc)
            # As SQLAlchemy's would be (translated before the connection goes).
            error = exc if lost else _translated(fairy, begin, (), exc, dbapi_error)
            _discard_raw(engine, fairy, exc, whole_pool=lost)
            if attempt == 1 and lost:
                continue
            if error is exc:
                raise
            raise error from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _discard_raw(
    engine: AsyncEngine,
    fairy: PoolProxiedConnection,
    exc: BaseException | None,
    *,
    whole_pool: bool,
) -> None:
    """Close the driver connection (not back into the pool: its state is
    unknown) and hand its slot back. After a lost connection the pool's
    other connections of the same age are stale too, as SQLAlchemy itself
    marks them on a disconnect (`Pool._invalidate`)."""
    with contextlib.suppress(Exception):
        if whole_pool:
            engine.sync_engine.pool._invalidate(fairy, exc)
        else:
            fairy.invalidate(exc)


@asynccontextmanager
async def read_transaction(
    engine: AsyncEngine, principal: Principal
) -> AsyncIterator[ReadConnection]:
    """`tenant_transaction(read_only=True)` on the raw driver: the same
    BEGIN READ ONLY, the same SWITCH, COMMIT on success, and the same 503 for
    a lost database at any point (the connection is then discarded)."""
    if principal.role not in API_ROLES:  # verified already; checked again at the door
        raise ValueError(f"role {principal.role!r} is not an API role")
    try:
        reader = await _begin_read(engine, switch_args(principal, request_id_var.get()))
    except Exception as exc:
        if is_connection_loss(exc):
            raise unavailable() from exc
        raise
    fairy = reader._fairy
    try:
        yield reader
        await reader.driver.execute("COMMIT")
    except BaseException as exc:
        cancelled = isinstance(exc, asyncio.CancelledError)
        if cancelled or is_connection_loss(exc):
            # Mid-operation: its state is unknown (a cancelled query may still run).
            _discard_raw(engine, fairy, exc, whole_pool=not cancelled)
            if not cancelled:
                raise unavailable() from exc
            raise
        try:
            await reader.driver.execute("ROLLBACK")
        except Exception as rollback_error:
            lost = is_connection_loss(rollback_error)
            _discard_raw(engine, fairy, rollback_error, whole_pool=lost)
            if lost:
                raise unavailable() from rollback_error
            raise
        fairy.close()
        raise
    else:
        fairy.close()


async def read_session(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[ReadConnection]:
    """FastAPI dependency of the GET endpoints that read through `fetch`:
    the request's tenant transaction, READ ONLY, on the raw driver. Like
    `tenant_session`, used with `scope="function"`: COMMIT before the answer."""
    _publish(request, principal)
    async with read_transaction(request.app.state.engine, principal) as reader:
        yield reader


ReadSession = Annotated[ReadConnection, Depends(read_session, scope="function")]

# Whatever a read runs on: a read transaction, or a write transaction's connection.
Reader = AsyncConnection | ReadConnection


async def fetch(conn: Reader, statement: str, *args: Any) -> list[Any]:
    """Run a read (asyncpg's `$n` SQL) in the request's tenant transaction,
    whichever it is: straight on a `ReadConnection`, or on the asyncpg
    connection under a SQLAlchemy transaction (same connection, same
    transaction, same role and claims), skipping SQLAlchemy's execution
    layer. Rows are asyncpg `Record`s (by name or position). Errors come out
    as SQLAlchemy's `DBAPIError` either way, exactly as from `conn.execute`."""
    if type(conn) is ReadConnection:
        return await conn.fetch(statement, *args)
    assert isinstance(conn, AsyncConnection)
    fairy = await conn.get_raw_connection()
    try:
        return await fairy.driver_connection.fetch(statement, *args)  # type: ignore[union-attr, no-any-return]
    except Exception as error:
        raise _translated(fairy, statement, args, error, conn.dialect.loaded_dbapi.Error) from error
