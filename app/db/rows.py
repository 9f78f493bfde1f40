"""What every resource table's service does the same way: get, list a keyset
page, insert, update and delete by id, and the statements they run. Row level
security scopes each statement to the caller; a write that matches no row is
turned into the right refusal (404 when the row is invisible, exactly as if
it did not exist; 403 when the caller may read it but not change it).

One statement style: every statement is asyncpg's `$n` SQL, hand-written or
SQLAlchemy Core compiled once (`Statement`), and runs through the tenant
door's `fetch` (or `fetchrow`, `fetchval`, `execute` below, which are `fetch`
with the answer shaped), on either connection type, with no SQLAlchemy
execution layer on the way."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError

from app.db.tenancy import Reader, fetch
from app.http.etags import digest, match
from app.http.pagination import decode_cursor, page_of
from app.http.problems import (
    InvalidReference,
    NoMind,
    NotFound,
    PreconditionFailed,
    ProblemError,
    ReadOnly,
    sqlstate_of,
)

# A row as services pass it around: by column name (the dict of an asyncpg
# Record).
Row = Mapping[Any, Any]

_DIALECT = asyncpg_dialect()


def compile_sql(statement: Any) -> tuple[str, tuple[str, ...]]:
    """A Core statement whose values are all named `bindparam`s, compiled once
    to asyncpg's `$n` SQL, with the parameter names in `$n` order."""
    compiled = statement.compile(dialect=_DIALECT)
    return str(compiled), tuple(compiled.positiontup or ())


class Statement:
    """A Core statement compiled once to asyncpg's `$n` SQL (the text
    SQLAlchemy itself would send, casts and all), for the statements whose
    values need SQLAlchemy's conversion (a jsonb value is sent as its JSON
    text, `None` as JSON null) or that fix a value themselves (a literal).

    `bind(values)` answers `(sql, *args)`, what `fetch` takes after the
    connection: `fetch(conn, *STATEMENT.bind(values))`. Each named
    `bindparam` must have a value in `values`."""

    __slots__ = ("_params", "sql")

    def __init__(self, core: Any) -> None:
        compiled = core.compile(dialect=_DIALECT)
        self.sql = str(compiled)
        params: list[tuple[str, Callable[[Any], Any] | None, bool, Any]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            params.append((name, processor, bind.required, bind.value))
        self._params = tuple(params)

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        args: list[Any] = [self.sql]
        for name, processor, required, fixed in self._params:
            value = values[name] if required else fixed
            args.append(value if processor is None else processor(value))
        return tuple(args)


class Statements:
    """Statements of one family by their shape (which columns an UPDATE
    sets, say), each compiled on its first use and kept: a request never
    compiles SQL twice."""

    __slots__ = ("_build", "_by_shape")

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build
        self._by_shape: dict[Any, Statement] = {}

    def __call__(self, *shape: Any) -> Statement:
        statement = self._by_shape.get(shape)
        if statement is None:
            statement = self._by_shape[shape] = Statement(self._build(*shape))
        return statement


# ---- running statements: the door's `fetch`, its answer shaped --------------------------


async def fetchrow(conn: Reader, sql: str, *args: Any) -> dict[str, Any] | None:
    """The statement's first row as a dict (what the response models
    validate), or None. `fetchval` and `execute` are the door's own."""
    rows = await fetch(conn, sql, *args)
    return dict(rows[0]) if rows else None


def merge_patch(column: Any, name: str) -> Any:
    """`column = jsonb_merge_patch(column, $name)`: merged in the UPDATE
    itself, so concurrent patches serialize on the row lock and none is lost
    (the function is migration 0003's)."""
    return func.jsonb_merge_patch(column, bindparam(name, type_=JSONB))


@dataclass(frozen=True)
class Reference:
    """A reference the caller sets (`field`, a column of what they write)
    must name a row of `table` the caller can read. A foreign key sees every
    row, whatever RLS says, so without this a creator could point at another
    creator's row by guessing its id; an invisible row is refused exactly as
    a missing one (422 naming the field), so its existence is not revealed."""

    table: Table
    field: str
    noun: str

    @cached_property
    def sql(self) -> str:
        return compile_sql(select(self.table.c.id).where(self.table.c.id == bindparam("id")))[0]

    async def check(self, conn: Reader, values: Mapping[str, Any]) -> None:
        row_id = values.get(self.field)
        if row_id is None:
            return
        if await fetchrow(conn, self.sql, row_id) is None:
            raise InvalidReference(f"{self.noun} {row_id} does not exist").with_errors(
                [{"loc": ["body", self.field], "msg": f"no such {self.noun}",
                  "type": "invalid_reference"}]
            )  # fmt: skip


async def require_visible(
    conn: Reader, references: Sequence[Reference], values: Mapping[str, Any]
) -> None:
    """Every reference set in `values` names a row the caller can read."""
    for reference in references:
        await reference.check(conn, values)


def no_mind(owned: str) -> NoMind:
    return NoMind(
        f"your user has no mind yet, so it cannot own {owned}; "
        "an admin provisions one with `creatoros minds create`"
    )


def bound(table: Table, name: str) -> Any:
    """A value for column `name`, typed as the column (its conversion and cast)."""
    return bindparam(name, type_=table.c[name].type)


@dataclass(frozen=True)
class TableRows:
    table: Table
    noun: str
    read_only_detail: str
    plural: str = ""
    # What a read returns and which rows exist at all (contents: every column
    # but deleted_at, and only rows not soft-deleted).
    columns: Sequence[ColumnElement[Any]] = ()
    live: ColumnElement[bool] | None = None
    # List filters that are not a column's equality, by name; each holds a
    # `bindparam` of the same name (contents: `tag`).
    conditions: Mapping[str, ColumnElement[bool]] = field(default_factory=dict)
    # jsonb columns an update merges into (JSON Merge Patch) instead of replacing.
    merged: frozenset[str] = frozenset()
    # What an INSERT answers when it is not what a read selects (projects: a
    # read's projection has a FROM of its own; the writer reads its whole row).
    written: Sequence[ColumnElement[Any]] = ()
    # A page's SQL by its shape (which filters, whether after a cursor):
    # compiled on first use, so a list page costs no SQL compilation.
    _pages: dict[tuple[tuple[str, ...], bool], tuple[str, tuple[str, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def select(self) -> Any:
        query = select(*self.columns) if self.columns else select(self.table)
        return query if self.live is None else query.where(self.live)

    def this(self) -> list[ColumnElement[bool]]:
        """The row `$row_id`, if live."""
        return [
            self.table.c.id == bindparam("row_id"),
            *([self.live] if self.live is not None else []),
        ]

    @cached_property
    def returned(self) -> Sequence[ColumnElement[Any]]:
        """What a write answers: what a read does, unless `written` says otherwise."""
        return self.written or self.columns or list(self.table.c)

    @cached_property
    def insert_sql(self) -> Statements:
        """An INSERT of these columns (names), answering the row."""
        return Statements(
            lambda *names: (
                insert(self.table)
                .values({name: bound(self.table, name) for name in names})
                .returning(*self.returned)
            )
        )

    @cached_property
    def update_sql(self) -> Statements:
        """An UPDATE of the live row `$row_id` setting these columns (names;
        `merged` ones merged), answering the row."""
        return Statements(
            lambda *names: (
                update(self.table)
                .where(*self.this())
                .values(
                    {
                        name: merge_patch(self.table.c[name], name)
                        if name in self.merged
                        else bound(self.table, name)
                        for name in names
                    }
                )
                .returning(*self.table.c)
            )
        )

    @cached_property
    def delete_sql(self) -> Statement:
        return Statement(delete(self.table).where(*self.this()).returning(self.table.c.id))

    async def insert(self, conn: Reader, values: Mapping[str, Any]) -> Row:
        """Insert a row of these values (by column name); answers it."""
        row = await fetchrow(conn, *self.insert_sql(*values).bind(values))
        assert row is not None  # an INSERT … RETURNING answers its row
        return row

    async def insert_owned(self, conn: Reader, values: Mapping[str, Any]) -> Row:
        """Insert a row whose owner (creator_mind_id, owner_mind_id) the
        database fills from the caller's claims. The only policy such an
        insert can fail is "the owner is me", so a refusal means the caller
        has no mind."""
        try:
            return await self.insert(conn, values)
        except DBAPIError as exc:
            if sqlstate_of(exc) == "42501":
                raise no_mind(self.plural or f"{self.noun}s") from exc
            raise

    def not_found(self, row_id: uuid.UUID) -> NotFound:
        return NotFound(f"{self.noun} {row_id} does not exist")

    @cached_property
    def get_sql(self) -> str:
        """`get`'s statement, compiled once to asyncpg's SQL (select() already
        keeps to live rows); its one parameter is the id. The bench's floor
        runs it too."""
        return compile_sql(self.select().where(self.table.c.id == bindparam("row_id")))[0]

    async def get(self, conn: Reader, row_id: uuid.UUID) -> Row | None:
        """The one get-by-id of every resource (reads, and the refusals and
        read-backs of writes): straight on asyncpg, no SQLAlchemy execution
        layer on the way."""
        return await fetchrow(conn, self.get_sql, row_id)

    async def require(self, conn: Reader, row_id: uuid.UUID) -> Row:
        """`get`, or the resource's 404 (identical for a missing row and one
        the caller may not see)."""
        row = await self.get(conn, row_id)
        if row is None:
            raise self.not_found(row_id)
        return row

    def page_sql(self, names: tuple[str, ...], after: bool) -> tuple[str, tuple[str, ...]]:
        """A page's SQL for these filters (sorted names), after a cursor or
        not, and the order of its parameters; the bench's floor runs it too."""
        shape = (names, after)
        compiled = self._pages.get(shape)
        if compiled is None:
            created_at, row_id = self.table.c.created_at, self.table.c.id
            query = self.select()
            for name in names:
                condition = self.conditions.get(name)
                query = query.where(
                    condition if condition is not None else self.table.c[name] == bindparam(name)
                )
            if after:
                # Keyset: strictly after the cursor's (created_at, id).
                query = query.where(
                    or_(
                        created_at > bindparam("after_created_at"),
                        and_(
                            created_at == bindparam("after_created_at"),
                            row_id > bindparam("after_id"),
                        ),
                    )
                )
            # One extra row tells whether there is a next page.
            query = query.order_by(created_at, row_id).limit(bindparam("limit_plus_one"))
            compiled = self._pages[shape] = compile_sql(query)
        return compiled

    async def page(
        self,
        conn: Reader,
        *,
        filters: dict[str, Any],
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Row], str | None]:
        """One page in (created_at, id) order; filters whose value is None are
        ignored. A filter is a column's equality or one of `conditions`."""
        values = {name: value for name, value in filters.items() if value is not None}
        sql, order = self.page_sql(tuple(sorted(values)), bool(cursor))
        if cursor:
            values["after_created_at"], values["after_id"] = decode_cursor(cursor)
        values["limit_plus_one"] = limit + 1
        rows = await fetch(conn, sql, *(values[name] for name in order))
        return page_of([dict(row) for row in rows], limit)

    async def refusal(self, conn: Reader, row_id: uuid.UUID) -> ProblemError:
        if await self.get(conn, row_id) is None:
            return self.not_found(row_id)
        return ReadOnly(self.read_only_detail)

    async def update(self, conn: Reader, row_id: uuid.UUID, values: Mapping[str, Any]) -> Row:
        """Set these columns of the row (a partial update: the fields sent);
        nothing to set answers the row as it is."""
        if not values:
            return await self.require(conn, row_id)
        statement = self.update_sql(*values)
        row = await fetchrow(conn, *statement.bind({**values, "row_id": row_id}))
        if row is None:
            raise await self.refusal(conn, row_id)
        return row

    async def patch(self, conn: Reader, row_id: uuid.UUID, data: BaseModel) -> Row:
        """`update` with the fields a PATCH body sent (as JSON values)."""
        return await self.update(conn, row_id, data.model_dump(mode="json", exclude_unset=True))

    @cached_property
    def lock_sql(self) -> str:
        """The live row `$1`, locked for a write (row level security: only
        if the caller may change it), as its UPDATE would lock it."""
        query = select(self.table.c.id).where(*self.this())
        return compile_sql(query.with_for_update(of=self.table, key_share=True))[0]

    async def require_version(
        self,
        conn: Reader,
        row_id: uuid.UUID,
        if_match: str | None,
        representation: Callable[[Row], bytes],
    ) -> None:
        """With `If-Match`, before a write: lock the row (the refusal, 404 or
        403, as the write itself would answer, when the caller may not change
        it) and answer 412 unless the header names its current version, the
        ETag a GET of it by this caller answers now (`representation`: the
        bytes that GET sends). The lock holds until the write commits, so of
        two writers holding the same ETag one wins and the other gets 412."""
        if if_match is None:
            return
        if await fetchrow(conn, self.lock_sql, row_id) is None:
            raise await self.refusal(conn, row_id)
        row = await self.require(conn, row_id)
        if not match(if_match, digest(representation(row))):
            raise PreconditionFailed(
                f"{self.noun} {row_id} changed since the ETag in If-Match (or If-Match is"
                " not one of its ETags); nothing was written: read it again and reapply"
            )

    async def delete(self, conn: Reader, row_id: uuid.UUID) -> None:
        if await fetchrow(conn, *self.delete_sql.bind({"row_id": row_id})) is None:
            raise await self.refusal(conn, row_id)
