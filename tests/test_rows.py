"""`app.db.rows`' statement helpers: a Core statement compiled once runs on
the door's `fetch` with SQLAlchemy's own value conversions, in the tenant
transaction, and a TableRows write answers and refuses as before."""

from __future__ import annotations

import json
import uuid
from typing import cast

import pytest
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import AudienceProfile
from app.db.rows import Statement, Statements, TableRows, fetchrow
from app.db.tenancy import execute, fetchval, tenant_transaction
from app.http.problems import NotFound
from tests.factories import Creator

audiences = cast(Table, AudienceProfile.__table__)
ROWS = TableRows(audiences, "audience", "read only")


@pytest.mark.pure
def test_a_statement_binds_named_values_in_dollar_order_with_conversions() -> None:
    statement = Statement(
        update(audiences)
        .where(audiences.c.id == bindparam("row_id"), audiences.c.slug == "fixed")
        .values(demographics=bindparam("demographics", type_=audiences.c.demographics.type))
    )
    row_id = uuid.uuid4()
    sql, *args = statement.bind({"row_id": row_id, "demographics": {"age": 30}})
    assert sql == statement.sql and "$3" in sql and "$4" not in sql
    # jsonb goes as its JSON text, a literal of the statement as it was written.
    assert [json.loads(args[0]), args[1], args[2]] == [{"age": 30}, row_id, "fixed"]
    # None in a jsonb column is JSON null, as SQLAlchemy sends it.
    assert statement.bind({"row_id": row_id, "demographics": None})[1] == "null"
    with pytest.raises(KeyError):
        statement.bind({"row_id": row_id})


@pytest.mark.pure
def test_statements_compile_each_shape_once() -> None:
    built: list[tuple[str, ...]] = []

    def build(*names: str) -> object:
        built.append(names)
        return select(*(audiences.c[name] for name in names))

    family = Statements(build)
    first = family("id", "slug")
    assert family("id", "slug") is first
    assert family("slug") is not first
    assert built == [("id", "slug"), ("slug",)]


async def test_helpers_run_in_the_tenant_transaction(engine: AsyncEngine, alice: Creator) -> None:
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        assert await fetchval(conn, "SELECT current_mind_id()") == alice.mind_id
        assert await fetchval(conn, "SELECT 1 WHERE false") is None
        assert await fetchrow(conn, "SELECT 1 AS one WHERE false") is None
        row = await ROWS.insert_owned(conn, {"slug": "a", "name": "A", "demographics": {"x": 1}})
        assert row["owner_mind_id"] == alice.mind_id and row["demographics"] == {"x": 1}
        patched = await ROWS.update(conn, row["id"], {"name": "B", "demographics": None})
        assert (patched["name"], patched["demographics"]) == ("B", None)
        await execute(conn, "UPDATE audience_profiles SET name = $1 WHERE id = $2", "C", row["id"])
        assert await fetchval(conn, ROWS.get_sql, row["id"]) == row["id"]
        assert (await ROWS.require(conn, row["id"]))["name"] == "C"
        await ROWS.delete(conn, row["id"])
        with pytest.raises(NotFound):
            await ROWS.delete(conn, row["id"])
