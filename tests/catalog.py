"""A comparable picture of a database: its objects and, optionally, its rows."""

from __future__ import annotations

from typing import Any

import asyncpg

SCHEMAS = ("public", "auth")

_QUERIES: dict[str, str] = {
    "columns": """
        SELECT table_schema, table_name, column_name, data_type, is_nullable,
               coalesce(column_default, ''), coalesce(character_maximum_length, 0),
               coalesce(numeric_precision, 0), coalesce(numeric_scale, 0)
        FROM information_schema.columns
        WHERE table_schema = ANY($1) AND table_name <> 'alembic_version'
        ORDER BY 1, 2, 3""",
    "constraints": """
        SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relname <> 'alembic_version'
        ORDER BY 1, 2, 3""",
    "indexes": """
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = ANY($1) AND tablename <> 'alembic_version'
        ORDER BY 1, 2, 3""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND NOT t.tgisinternal ORDER BY 1, 2""",
    "functions": """
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_function_result(p.oid), p.provolatile
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY($1) ORDER BY 1, 2, 3""",
    "policies": """
        SELECT schemaname, tablename, policyname, cmd, roles::text, coalesce(qual, ''),
               coalesce(with_check, '')
        FROM pg_policies WHERE schemaname = ANY($1) ORDER BY 1, 2, 3""",
    "rls": """
        SELECT c.relname, c.relrowsecurity FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind = 'r' AND c.relname <> 'alembic_version'
        ORDER BY 1""",
    "roles": """
        SELECT rolname, rolcanlogin, rolbypassrls, rolinherit FROM pg_roles
        WHERE rolname IN ('anon', 'authenticated', 'service_role') ORDER BY 1""",
}


async def snapshot(dsn: str, *, with_rows: bool = True) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        picture: dict[str, Any] = {}
        for name, query in _QUERIES.items():
            args = [list(SCHEMAS)] if "$1" in query else []
            picture[name] = [tuple(r) for r in await conn.fetch(query, *args)]
        if with_rows:
            picture["rows"] = await _row_digests(conn, column_lists(picture))
        return picture
    finally:
        await conn.close()


def column_lists(picture: dict[str, Any]) -> dict[str, list[str]]:
    """Each public table's columns, from a snapshot."""
    tables: dict[str, list[str]] = {}
    for schema, table, column, *_ in picture["columns"]:
        if schema == "public":
            tables.setdefault(table, []).append(column)
    return tables


async def row_digests(dsn: str, columns: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Count and digest of every row, over the given columns only (so that a
    column added later does not change the digest of the data kept)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await _row_digests(conn, columns)
    finally:
        await conn.close()


async def _row_digests(
    conn: asyncpg.Connection, columns: dict[str, list[str]]
) -> dict[str, tuple[int, str]]:
    digests = {}
    for table, names in sorted(columns.items()):
        row = "ROW(" + ", ".join(f'"{n}"' for n in names) + ")::text"
        count, digest = await conn.fetchrow(
            f"SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), ''))"
            f' FROM (SELECT {row} AS r FROM public."{table}") t'
        )
        digests[table] = (count, digest)
    return digests


async def scalar(dsn: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
