"""What every resource table's service does the same way: get, list a keyset
page, update and delete by id. Row level security scopes each statement to
the caller; a write that matches no row is turned into the right refusal
(404 when the row is invisible, exactly as if it did not exist; 403 when the
caller may read it but not change it)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
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
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tenancy import Reader, fetch
from app.http.pagination import decode_cursor, page_of
from app.http.problems import (
    InvalidReference,
    NoMind,
    NotFound,
    ProblemError,
    ReadOnly,
    sqlstate_of,
)

# A row as services pass it around: by column name (SQLAlchemy's RowMapping,
# or the dict of an asyncpg Record read on the hot path).
Row = Mapping[Any, Any]

_DIALECT = asyncpg_dialect()


def compile_sql(statement: Any) -> tuple[str, tuple[str, ...]]:
    """A Core statement whose values are all named `bindparam`s, compiled once
    to asyncpg's `$n` SQL, with the parameter names in `$n` order."""
    compiled = statement.compile(dialect=_DIALECT)
    return str(compiled), tuple(compiled.positiontup or ())


def merge_patch(column: Any, patch: dict[str, Any]) -> Any:
    """`column = jsonb_merge_patch(column, patch)`: merged in the UPDATE
    itself, so concurrent patches serialize on the row lock and none is lost
    (the function is migration 0003's)."""
    return func.jsonb_merge_patch(column, bindparam(None, patch, type_=JSONB))


async def require_visible(
    conn: AsyncConnection, table: Table, row_id: uuid.UUID | str | None, *, field: str, noun: str
) -> None:
    """A reference the caller sets (`field`) must name a row the caller can
    read. A foreign key sees every row, whatever RLS says, so without this a
    creator could point at another creator's row by guessing its id; an
    invisible row is refused exactly as a missing one (422 naming the field),
    so its existence is not revealed."""
    if row_id is None:
        return
    visible = await conn.execute(select(table.c.id).where(table.c.id == row_id))
    if visible.first() is None:
        raise InvalidReference(f"{noun} {row_id} does not exist").with_errors(
            [{"loc": ["body", field], "msg": f"no such {noun}", "type": "invalid_reference"}]
        )


def no_mind(owned: str) -> NoMind:
    return NoMind(
        f"your user has no mind yet, so it cannot own {owned}; "
        "an admin provisions one with `creatoros minds create`"
    )


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
    # A page's SQL by its shape (which filters, whether after a cursor):
    # compiled on first use, so a list page costs no SQL compilation.
    _pages: dict[tuple[tuple[str, ...], bool], tuple[str, tuple[str, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _this(self, row_id: uuid.UUID) -> list[ColumnElement[bool]]:
        return [self.table.c.id == row_id, *([self.live] if self.live is not None else [])]

    def select(self) -> Any:
        query = select(*self.columns) if self.columns else select(self.table)
        return query if self.live is None else query.where(self.live)

    async def insert_owned(self, conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
        """Insert a row whose owner (creator_mind_id, owner_mind_id) the
        database fills from the caller's claims. The only policy such an
        insert can fail is "the owner is me", so a refusal means the caller
        has no mind."""
        try:
            result = await conn.execute(
                insert(self.table).values(**values).returning(*self.table.c)
            )
        except DBAPIError as exc:
            if sqlstate_of(exc) == "42501":
                raise no_mind(self.plural or f"{self.noun}s") from exc
            raise
        return result.mappings().one()

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
        rows = await fetch(conn, self.get_sql, row_id)
        return dict(rows[0]) if rows else None

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

    async def refusal(self, conn: AsyncConnection, row_id: uuid.UUID) -> ProblemError:
        if await self.get(conn, row_id) is None:
            return self.not_found(row_id)
        return ReadOnly(self.read_only_detail)

    async def update(self, conn: AsyncConnection, row_id: uuid.UUID, values: dict[str, Any]) -> Row:
        if not values:
            return await self.require(conn, row_id)
        result = await conn.execute(
            update(self.table).where(*self._this(row_id)).values(**values).returning(*self.table.c)
        )
        row = result.mappings().one_or_none()
        if row is None:
            raise await self.refusal(conn, row_id)
        return row

    async def delete(self, conn: AsyncConnection, row_id: uuid.UUID) -> None:
        result = await conn.execute(
            delete(self.table).where(*self._this(row_id)).returning(self.table.c.id)
        )
        if result.first() is None:
            raise await self.refusal(conn, row_id)
