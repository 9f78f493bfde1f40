"""app/db/sql/ holds the head text of every function, policy and trigger the
service owns; these tests keep it true.

Each file is executed, in a transaction that is rolled back, on a database
migrated to head (a copy of the template) after the objects it declares were
dropped or reset: what PostgreSQL then holds must be exactly what the
migrations built (`pg_get_functiondef`, comment and rights; `pg_policies`;
`pg_get_triggerdef`). A file that drifts from head, declares something head
lacks, or misses an object fails, and so does an object without a file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.pg import PgServer

SQL = Path(__file__).resolve().parents[2] / "app" / "db" / "sql"
SCHEMAS = ["public", "creatoros_internal"]

# Functions of our schemas, without those an extension owns (unaccent's, when
# it lives in `public`). `auth` is Supabase's: never ours, never listed.
FUNCTIONS = """
    SELECT p.oid, p.oid::regprocedure::text AS signature, n.nspname || '.' || p.proname AS name,
           pg_get_functiondef(p.oid) AS definition,
           obj_description(p.oid, 'pg_proc') AS comment, p.proacl::text AS rights,
           p.ctid::text AS version
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY($1::text[])
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
    ORDER BY 2"""
POLICIES = """
    SELECT tablename::text, policyname::text, permissive, roles::text, cmd, qual, with_check
    FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2"""
# Tables whose rows RLS guards: those with policies, and those closed by RLS alone.
RLS_TABLES = """
    SELECT c.relname::text, c.relrowsecurity
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
      AND (c.relrowsecurity OR EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid))
    ORDER BY 1"""
TRIGGERS = """
    SELECT c.relname::text AS table_name, t.tgname::text AS name, pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY 1, 2"""


def sql_files(kind: str) -> dict[str, str]:
    """The files of app/db/sql/<kind>/, by name without `.sql`."""
    return {path.stem: path.read_text() for path in sorted((SQL / kind).glob("*.sql"))}


@pytest.fixture
async def head(pg_server: PgServer, database: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to a database migrated to head."""
    conn = await asyncpg.connect(pg_server.dsn(make_url(database).database or ""))
    try:
        yield conn
    finally:
        await conn.close()


async def rolled_back(conn: asyncpg.Connection, work: Callable[[], Awaitable[Any]]) -> Any:
    """Run `work` in a transaction that is always rolled back."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        return await work()
    finally:
        await transaction.rollback()


async def functions(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    return {r["signature"]: r for r in await conn.fetch(FUNCTIONS, SCHEMAS)}


def difference(now: asyncpg.Record, then: asyncpg.Record) -> str:
    """What differs, as a diff of the lines of each field (head first)."""
    lines = []
    for field, ours, heads in zip(
        ("definition", "comment", "rights"), declared(now), declared(then), strict=True
    ):
        if ours != heads:
            lines += difflib.unified_diff(
                str(heads).splitlines(),
                str(ours).splitlines(),
                f"{field} at head",
                "after the file",
                n=1,
                lineterm="",
            )
    return "\n".join(lines)


def declared(row: asyncpg.Record) -> tuple[str, str | None, str | None]:
    """What a file must reproduce: the definition, the comment, the rights."""
    return (row["definition"], row["comment"], row["rights"])


async def test_every_function_file_declares_its_function_as_head_has_it(
    head: asyncpg.Connection,
) -> None:
    """Per file: the function's comment and rights are reset, the file runs;
    every function must then be as at head, and the file must have replaced
    exactly the function its name says (`<schema>.<name>.sql`)."""
    at_head = await functions(head)
    files = sql_files("functions")
    problems: list[str] = []
    covered: set[str] = set()

    for stem, text in files.items():
        targets = [s for s, row in at_head.items() if row["name"] == stem]
        if len(targets) != 1:
            problems.append(f"{stem}.sql: names {len(targets)} functions at head, not one")
            continue
        (signature,) = targets
        if len(re.findall(rf"CREATE OR REPLACE FUNCTION\s+{re.escape(stem)}\s*\(", text)) != 1:
            problems.append(f"{stem}.sql: does not declare `CREATE OR REPLACE FUNCTION {stem}(`")

        async def run(signature: str = signature, text: str = text) -> dict[str, Any]:
            oid = at_head[signature]["oid"]
            # As the revision found it: no comment, default rights.
            await head.execute(f"COMMENT ON FUNCTION {signature} IS NULL")
            await head.execute("UPDATE pg_catalog.pg_proc SET proacl = NULL WHERE oid = $1", oid)
            before = await functions(head)
            await head.execute(text)
            return {"before": before, "after": await functions(head)}

        try:
            result = await rolled_back(head, run)
        except asyncpg.PostgresError as error:
            problems.append(f"{stem}.sql: {error}")
            continue
        before, after = result["before"], result["after"]
        replaced = {s for s, row in after.items() if before.get(s) != row}
        if replaced != {signature}:
            problems.append(f"{stem}.sql: replaced {sorted(replaced)}, not {signature}")
        for s in sorted(after.keys() | at_head.keys()):
            if s not in after or s not in at_head:
                problems.append(f"{stem}.sql: {s} {'added' if s in after else 'dropped'}")
            elif declared(after[s]) != declared(at_head[s]):
                problems.append(
                    f"{stem}.sql: {s} differs from head:\n{difference(after[s], at_head[s])}"
                )
        covered.add(signature)

    missing = set(at_head) - covered
    assert not missing, f"functions without a file in app/db/sql/functions/: {sorted(missing)}"
    assert not problems, "\n".join(problems)


async def test_every_policy_file_declares_its_tables_policies_as_head_has_them(
    head: asyncpg.Connection,
) -> None:
    """Per table: its policies are dropped and RLS switched off, its file runs;
    every table's policies and RLS must then be as at head."""
    at_head = [tuple(r) for r in await head.fetch(POLICIES)]
    rls_at_head = [tuple(r) for r in await head.fetch(RLS_TABLES)]
    files = sql_files("policies")
    assert all(enabled for _, enabled in rls_at_head)
    assert sorted(files) == [table for table, _ in rls_at_head], (
        "one file per table that RLS guards, no other"
    )

    problems: list[str] = []
    for table, text in files.items():

        async def run(table: str = table, text: str = text) -> tuple[list[tuple], list[tuple]]:
            for policy in await head.fetch(
                "SELECT policyname FROM pg_policies WHERE schemaname = 'public' AND tablename = $1",
                table,
            ):
                await head.execute(f"DROP POLICY {policy[0]} ON public.{table}")
            await head.execute(f"ALTER TABLE public.{table} DISABLE ROW LEVEL SECURITY")
            await head.execute(text)
            return (
                [tuple(r) for r in await head.fetch(POLICIES)],
                [tuple(r) for r in await head.fetch(RLS_TABLES)],
            )

        try:
            policies, rls = await rolled_back(head, run)
        except asyncpg.PostgresError as error:
            problems.append(f"{table}.sql: {error}")
            continue
        if rls != rls_at_head:
            problems.append(f"{table}.sql: does not switch row level security on")
        for row in sorted(set(policies) ^ set(at_head)):
            where = "head" if row in at_head else "the file"
            problems.append(f"{table}.sql: only {where} has {row}")

    assert not problems, "\n".join(problems)


async def test_every_trigger_file_declares_its_tables_triggers_as_head_has_them(
    head: asyncpg.Connection,
) -> None:
    """Per table: its triggers are dropped, its file runs; every trigger must
    then be as at head."""
    at_head = [tuple(r) for r in await head.fetch(TRIGGERS)]
    files = sql_files("triggers")
    assert sorted(files) == sorted({r[0] for r in at_head}), "one file per table with triggers"

    problems: list[str] = []
    for table, text in files.items():

        async def run(table: str = table, text: str = text) -> list[tuple]:
            for trigger in [r for r in at_head if r[0] == table]:
                await head.execute(f"DROP TRIGGER {trigger[1]} ON public.{table}")
            await head.execute(text)
            return [tuple(r) for r in await head.fetch(TRIGGERS)]

        try:
            triggers = await rolled_back(head, run)
        except asyncpg.PostgresError as error:
            problems.append(f"{table}.sql: {error}")
            continue
        for row in sorted(set(triggers) ^ set(at_head)):
            where = "head" if row in at_head else "the file"
            problems.append(f"{table}.sql: only {where} has {row}")

    assert not problems, "\n".join(problems)
