"""The tenant transaction: the only door from a request to the database.

Every request that touches data runs in exactly one transaction whose first
message switches to the caller's role and publishes the verified claims:

    BEGIN [READ ONLY];
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

One lifecycle, whichever driver runs the statements (`TenantTransaction`):
check a connection out of the engine's pool, BEGIN and switch on its asyncpg
driver, run the endpoint's `$n` SQL there (`fetch`, `fetchrow`, `fetchval`,
`execute`) or, for code written against SQLAlchemy, through an
`AsyncConnection` on the very same connection and transaction; COMMIT on
success, ROLLBACK on error, and a connection whose state is unknown (lost,
cancelled mid-query, a failed COMMIT) is discarded, never pooled again.
Only the public APIs of SQLAlchemy and asyncpg are used.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from app.auth import API_ROLES, Principal
from app.db.replicas import BEHIND, ON_PRIMARY, ON_REPLICA, Replica, Replicas, parse_lsn
from app.http.observability import APPLICATION_NAME_PREFIX, POOL_WAITING, request_id_var
from app.http.problems import is_connection_loss, unavailable
from app.http.tracing import trace_var

T = TypeVar("T")

STATEMENT_TIMEOUT = "15s"
# `creatoros <request id>`: the id is bounded so that the whole of it fits
# the 63 bytes PostgreSQL keeps (app.http.observability.MAX_REQUEST_ID_LENGTH).
APPLICATION_NAME = APPLICATION_NAME_PREFIX.rstrip()

# One round trip: role, claims, a per-transaction statement timeout, and the
# request id as `application_name`, so `pg_stat_activity` and the server log
# (`%a`) tie a slow query to its request; all revert at COMMIT. The role is
# checked against the allow-list first. The values go in as exact literals
# (`sql_literal`), sent together with BEGIN (`begin_switched`); nothing else
# from the request is put into SQL. SWITCH is the same statement with `$n`
# parameters: the benchmark's floor runs these very strings.
_SWITCH_TEMPLATE = (
    "SELECT set_config('role', {0}, true),"
    " set_config('request.jwt.claims', {1}, true),"
    " set_config('statement_timeout', {2}, true),"
    " set_config('application_name', {3}, true)"
)
SWITCH = _SWITCH_TEMPLATE.format("$1", "$2", "$3", "$4")

# `info` of a pooled connection that has opened a tenant transaction before
# (SQLAlchemy clears a connection's `info` when it is replaced).
_SERVED = "creatoros.served"


def sql_literal(value: str) -> str:
    """`value` as a PostgreSQL string constant, exact whatever it holds.

    The escape-string form (E'…') with every backslash and quote doubled
    means the same under any `standard_conforming_strings`; PostgreSQL text
    cannot hold NUL, so a value with one is refused rather than cut."""
    if "\x00" in value:
        raise ValueError("a PostgreSQL string cannot contain NUL")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def begin_switched(args: tuple[str, str, str, str], *, read_only: bool) -> str:
    """BEGIN [READ ONLY] and SWITCH as one simple-protocol query (two
    statements, one round trip): a transaction's first message. Bound
    parameters need the extended protocol, which carries one statement per
    round trip, and each round trip (a socket write and a wake-up) was a large
    share of a content get's CPU. So the switch's values go in as literals,
    each through `sql_literal`. The role is one of API_ROLES, the claims are
    the verified token's JSON, the rest is ours."""
    begin = "BEGIN READ ONLY; " if read_only else "BEGIN; "
    return begin + _SWITCH_TEMPLATE.format(*map(sql_literal, args))


def switch_args(principal: Principal, request_id: str | None) -> tuple[str, str, str, str]:
    """The parameters of SWITCH for this caller and request."""
    name = APPLICATION_NAME if request_id is None else APPLICATION_NAME_PREFIX + request_id
    if (trace := trace_var.get()) is not None:
        # After the request id: `pg_stat_activity` keeps 63 bytes (the id
        # stays whole there), the server log (`%a`) all of it.
        name = f"{name} {trace.trace_id}"
    return principal.role, principal.claims_json, STATEMENT_TIMEOUT, name


# ---- errors: asyncpg's, as SQLAlchemy raises them -------------------------------------------

# The SQLAlchemy exception class for each asyncpg error, as SQLAlchemy's
# asyncpg dialect translates it (most specific first in an error's MRO);
# tests/test_tenancy_fetch.py checks the two stay alike.
_SQLALCHEMY_ERRORS: dict[type[Exception], type[sa_exc.DBAPIError]] = {
    asyncpg.IntegrityConstraintViolationError: sa_exc.IntegrityError,
    asyncpg.SyntaxOrAccessError: sa_exc.ProgrammingError,
    asyncpg.InvalidCachedStatementError: sa_exc.NotSupportedError,
    asyncpg.InternalServerError: sa_exc.InternalError,
    asyncpg.InternalClientError: sa_exc.InternalError,
    asyncpg.InterfaceError: sa_exc.InterfaceError,
    asyncpg.PostgresError: sa_exc.DBAPIError,
}


def database_error(
    driver: asyncpg.Connection, statement: str, args: tuple[Any, ...], error: Exception
) -> Exception:
    """An asyncpg error as SQLAlchemy's `DBAPIError` (its SQLSTATE on `orig`,
    `connection_invalidated` when the connection is gone), so the services
    and the problem map see one kind of error whichever driver ran the
    statement. Anything else (an OSError, a timeout) passes unchanged, as it
    does through SQLAlchemy."""
    for kind in type(error).__mro__:
        wrapper = _SQLALCHEMY_ERRORS.get(kind)
        if wrapper is not None:
            return wrapper(statement, args, error, connection_invalidated=driver.is_closed())
    return error


async def _run(
    driver: asyncpg.Connection,
    call: Callable[..., Awaitable[T]],
    statement: str,
    args: tuple[Any, ...],
) -> T:
    try:
        return await call(statement, *args)
    except Exception as error:
        translated = database_error(driver, statement, args, error)
        if translated is error:
            raise
        raise translated from error


# ---- the door ---------------------------------------------------------------------------------


class TenantTransaction:
    """One tenant transaction on one pooled connection (see the module's
    docstring). Its statements are asyncpg's `$n` SQL, run on the driver with
    none of SQLAlchemy's execution layer (its greenlet hops, result wrapping
    and bookkeeping cost more CPU than a content get's database work); rows are
    asyncpg `Record`s (by name or position), errors SQLAlchemy's `DBAPIError`.

    `connection` is an SQLAlchemy `AsyncConnection` on the same connection and
    transaction, for code that still builds its SQL with SQLAlchemy (None
    unless asked for). It runs in SQLAlchemy's AUTOCOMMIT mode, which only
    means SQLAlchemy leaves BEGIN and COMMIT to this door; savepoints
    (`begin_nested`) work as before.

    The connection comes from the engine's pool, the only pool: its size,
    timeouts, connect hook (`guard_login_role`), pooler settings
    (`DB_POOLER_MODE`) and the pool gauges apply unchanged."""

    __slots__ = ("connection", "driver", "pooled", "position")

    def __init__(self, pooled: PoolProxiedConnection, connection: AsyncConnection | None) -> None:
        self.pooled = pooled
        self.driver: asyncpg.Connection = pooled.driver_connection  # type: ignore[assignment]
        self.connection = connection
        # The primary's WAL position after this transaction's COMMIT, when
        # asked for (`wal_position=True`): the write's consistency token.
        self.position: str | None = None

    async def fetch(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        return await _run(self.driver, self.driver.fetch, statement, args)

    async def fetchrow(self, statement: str, *args: Any) -> asyncpg.Record | None:
        return await _run(self.driver, self.driver.fetchrow, statement, args)

    async def fetchval(self, statement: str, *args: Any) -> Any:
        return await _run(self.driver, self.driver.fetchval, statement, args)

    async def execute(self, statement: str, *args: Any) -> str:
        """Run a statement for its effect; returns its status ("UPDATE 3")."""
        return await _run(self.driver, self.driver.execute, statement, args)

    # -- the lifecycle: every step in one place ----------------------------------------

    @classmethod
    async def begin(
        cls, engine: AsyncEngine, principal: Principal, *, read_only: bool, sqlalchemy: bool
    ) -> TenantTransaction:
        """A pooled connection in a new transaction, switched to `principal`.

        A pooled connection may have died while idle (the database restarted):
        that shows on BEGIN, before anything of the request ran, so it is
        dropped and the next one tried, as long as the failing connection had
        served before. (After a restart every idle connection is dead; each
        fails at once, without a round trip.) A connection made just now that
        fails means the database is really gone: the caller answers 503."""
        begin = begin_switched(switch_args(principal, request_id_var.get()), read_only=read_only)
        pool = engine.pool
        attempts = pool.size() + 1 if isinstance(pool, QueuePool) else 2
        for attempt in range(1, attempts + 1):
            door = await cls._checkout(engine, sqlalchemy=sqlalchemy)
            served = door.pooled.info.get(_SERVED, False)
            try:
                await door.run_or_discard(begin)
            except Exception as exc:
                if served and attempt < attempts and is_connection_loss(exc):
                    continue
                raise
            door.pooled.info[_SERVED] = True
            return door
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    async def _checkout(cls, engine: AsyncEngine, *, sqlalchemy: bool) -> TenantTransaction:
        with POOL_WAITING.track_inprogress():
            if not sqlalchemy:
                return cls(await engine.raw_connection(), None)
            connection = await engine.connect()
        try:
            # BEGIN and COMMIT are the door's: SQLAlchemy must not open a
            # transaction of its own on this connection.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            return cls(await connection.get_raw_connection(), connection)
        except BaseException:
            await connection.close()
            raise

    async def commit(self, *, wal_position: bool = False) -> None:
        await self.run_or_discard("COMMIT")
        if wal_position:
            await self._read_position()
        await self._release()

    async def _read_position(self) -> None:
        """The WAL position right after our COMMIT, on the same connection
        (one round trip, only when replicas are configured). The insert
        position is past our commit record once COMMIT has returned, whatever
        `synchronous_commit` says. The write has committed: losing the
        connection now must not turn it into an error, so the answer just
        goes without a token."""
        try:
            self.position = await self.driver.fetchval(WAL_POSITION)
        except Exception as exc:
            await self.discard(exc)
            raise _PositionLost from exc

    async def rollback(self) -> None:
        await self.run_or_discard("ROLLBACK")
        await self._release()

    async def run_or_discard(self, statement: str) -> None:
        """Run BEGIN, COMMIT or ROLLBACK: if one fails, the connection's state
        is unknown, and it is discarded."""
        try:
            await _run(self.driver, self.driver.execute, statement, ())
        except BaseException as exc:
            await self.discard(exc)
            raise

    async def _release(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        else:
            self.pooled.close()

    async def discard(self, exc: BaseException | None) -> None:
        """Never give a connection in an unknown state back to the pool:
        close it and hand its slot back."""
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.invalidate(exc)
            with contextlib.suppress(Exception):
                await self.connection.close()
        else:
            with contextlib.suppress(Exception):
                self.pooled.invalidate(exc)


class _PositionLost(Exception):
    """The connection was lost after a COMMIT that succeeded."""


# After a write's COMMIT: where the primary's WAL is (see `_read_position`).
WAL_POSITION = "SELECT pg_current_wal_insert_lsn()::text"
# On a replica: how far it has replayed the primary's WAL.
REPLAYED = "SELECT pg_last_wal_replay_lsn()::text"


@asynccontextmanager
async def tenant_door(
    engine: AsyncEngine,
    principal: Principal,
    *,
    read_only: bool,
    sqlalchemy: bool = False,
    wal_position: bool = False,
    replicas: Replicas | None = None,
    wanted: int | None = None,
) -> AsyncIterator[TenantTransaction]:
    """Open one transaction as `principal`; COMMIT on success, ROLLBACK on error.

    Losing the database at any point (connecting, the switch, a query, the
    commit) raises the 503 problem; the connection is discarded, not pooled.
    A write is all-or-nothing: without a COMMIT that succeeded, PostgreSQL
    rolls it back. `sqlalchemy=True` also gives the transaction an
    SQLAlchemy `connection`; `wal_position=True` leaves the primary's WAL
    position after the COMMIT on the door's `position`.

    `replicas` (READ ONLY transactions only): run on a replica that has
    replayed WAL position `wanted` (any, when None), else on `engine`, the
    primary (see `app.db.replicas`)."""
    if principal.role not in API_ROLES:  # verified already; checked again at the door
        raise ValueError(f"role {principal.role!r} is not an API role")
    replica: Replica | None = None
    with _lost_is_unavailable():
        if replicas is None:
            door = await TenantTransaction.begin(
                engine, principal, read_only=read_only, sqlalchemy=sqlalchemy
            )
        else:
            assert read_only and not sqlalchemy, "only READ ONLY `$n` reads go to replicas"
            door, replica = await _begin_read(engine, replicas, principal, wanted)
    try:
        yield door
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError) or is_connection_loss(exc):
            # Mid-operation: its state is unknown (a cancelled query may still run).
            await door.discard(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            if replica is not None:  # the next reads go to the primary meanwhile
                replica.mark_down(exc)
            raise unavailable() from exc
        with _lost_is_unavailable():
            await door.rollback()
        raise
    with _lost_is_unavailable(), contextlib.suppress(_PositionLost):
        await door.commit(wal_position=wal_position)


async def _begin_read(
    primary: AsyncEngine, replicas: Replicas, principal: Principal, wanted: int | None
) -> tuple[TenantTransaction, Replica | None]:
    """A READ ONLY transaction on the replica `replicas` chooses, when it
    answers (and, if asked to check, has replayed `wanted`); else on the
    primary. A replica that fails is skipped for a while: never a 5xx for it."""
    choice = replicas.choose(wanted)
    replica = choice.replica
    if replica is not None:
        try:
            door = await TenantTransaction.begin(
                replica.engine, principal, read_only=True, sqlalchemy=False
            )
        except Exception as exc:
            replica.mark_down(exc)
        else:
            if not choice.check:
                ON_REPLICA.inc()
                return door, replica
            if await _replayed(door, replica, wanted):
                ON_REPLICA.inc()
                return door, replica
    ON_PRIMARY.inc()
    door = await TenantTransaction.begin(primary, principal, read_only=True, sqlalchemy=False)
    return door, None


async def _replayed(door: TenantTransaction, replica: Replica, wanted: int | None) -> bool:
    """Ask the replica, in the read's own transaction, how far it replayed;
    True when past `wanted`. Otherwise the transaction is given up on."""
    try:
        position = parse_lsn(await door.fetchval(REPLAYED))
    except BaseException as exc:
        await door.discard(exc)
        if not isinstance(exc, Exception):
            raise
        replica.mark_down(exc)
        return False
    replica.saw(position)
    if position is not None and (wanted is None or position >= wanted):
        return True
    BEHIND.inc()
    try:
        await door.rollback()
    except Exception as exc:
        replica.mark_down(exc)
    return False


@contextlib.contextmanager
def _lost_is_unavailable() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if is_connection_loss(exc):
            raise unavailable() from exc
        raise


@asynccontextmanager
async def tenant_transaction(
    engine: AsyncEngine, principal: Principal, *, read_only: bool
) -> AsyncIterator[AsyncConnection]:
    """`tenant_door`'s SQLAlchemy connection: for code that builds its SQL
    with SQLAlchemy (operator commands, the search indexer)."""
    async with tenant_door(engine, principal, read_only=read_only, sqlalchemy=True) as door:
        assert door.connection is not None
        yield door.connection


# ---- `$n` SQL on whichever the caller holds --------------------------------------------------

# What a service runs its statements on: the door, or the SQLAlchemy
# connection of one (the same connection and transaction).
Reader = TenantTransaction | AsyncConnection


async def _driver(conn: Reader) -> asyncpg.Connection:
    if type(conn) is TenantTransaction:
        return conn.driver
    assert isinstance(conn, AsyncConnection)
    driver: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection  # type: ignore[assignment]
    return driver


async def fetch(conn: Reader, statement: str, *args: Any) -> list[asyncpg.Record]:
    """`conn.fetch` for either kind of `Reader`: asyncpg `Record`s, errors as
    SQLAlchemy's `DBAPIError`, exactly as from `conn.execute`."""
    driver = await _driver(conn)
    return await _run(driver, driver.fetch, statement, args)


async def fetchrow(conn: Reader, statement: str, *args: Any) -> asyncpg.Record | None:
    driver = await _driver(conn)
    return await _run(driver, driver.fetchrow, statement, args)


async def fetchval(conn: Reader, statement: str, *args: Any) -> Any:
    driver = await _driver(conn)
    return await _run(driver, driver.fetchval, statement, args)


async def execute(conn: Reader, statement: str, *args: Any) -> str:
    driver = await _driver(conn)
    return await _run(driver, driver.execute, statement, args)
