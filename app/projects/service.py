"""Projects in SQL. Row level security scopes every statement to the caller."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.rows import Row, TableRows, fetchrow, no_mind, require_visible
from app.db.tenancy import fetchval
from app.http.problems import PersonaNotGranted, sqlstate_of
from app.http.schemas import model_bytes
from app.projects import sql
from app.projects.schemas import Project, ProjectCreate, ProjectUpdate, ProjectUpsert

# Visible but not writable: the caller is the project's persona.
# Reads select the projection the caller may read (`sql.COLUMNS`).
ROWS = TableRows(
    sql.projects, "project", "you can read this project but not change it",
    columns=sql.COLUMNS, written=list(sql.projects.c), merged=frozenset({"project_metadata"}),
)  # fmt: skip
project_not_found = ROWS.not_found

PERSONA_NOT_GRANTED = (
    "the project's persona_mind_id names a mind that has not granted you its persona:"
    " its owner grants it with PUT /v1/me/persona-grants/{your mind id} (revoked grants"
    " included: clear persona_mind_id to change the project without it)"
)


async def _written(conn: AsyncConnection, write: Callable[[], Awaitable[Row | None]]) -> Row | None:
    """Run a project write in a savepoint. The policies refuse it (42501) for
    one of two reasons, which the database tells apart, not Python: the
    caller has no mind to own it, or its persona has not consented."""
    try:
        async with conn.begin_nested():
            return await write()
    except DBAPIError as exc:
        if sqlstate_of(exc) != "42501":
            raise
        if await fetchval(conn, sql.HAS_MIND):
            raise PersonaNotGranted(PERSONA_NOT_GRANTED) from exc
        raise no_mind("projects") from exc


async def create_project(conn: AsyncConnection, data: ProjectCreate) -> Row:
    values = data.model_dump(mode="json")
    await require_visible(conn, sql.REFERENCES, values)
    row = await _written(conn, lambda: ROWS.insert(conn, values))
    assert row is not None  # an INSERT … RETURNING answers its row
    return row


async def insert_under_project(
    conn: AsyncConnection, project_id: uuid.UUID, rows: TableRows, values: dict[str, Any]
) -> Row:
    """Insert a row that belongs to a project (a content, a market research
    report). The policy refuses it when the project is not the caller's;
    a savepoint keeps the transaction usable so the refusal can be told
    apart: invisible → 404, as if it did not exist; visible (the caller is
    its persona) → 403."""
    try:
        async with conn.begin_nested():
            return await rows.insert(conn, {**values, "project_id": project_id})
    except DBAPIError as exc:
        if sqlstate_of(exc) == "42501":
            raise await ROWS.refusal(conn, project_id) from exc
        raise


async def upsert_project(conn: AsyncConnection, slug: str, data: ProjectUpsert) -> tuple[Row, bool]:
    """Create the caller's project `slug`, or update it in place (same id):
    one statement, so retries and concurrent runs never duplicate it."""
    params = data.model_dump(mode="json")
    await require_visible(conn, sql.REFERENCES, params)
    args = (
        slug, params["name"], params["project_type"], params["description"], params["status"],
        params["persona_mind_id"], params["target_audience_id"],
        json.dumps(params["project_metadata"]),
    )  # fmt: skip
    written = await _written(conn, lambda: fetchrow(conn, sql.UPSERT, *args))
    row = dict(written) if written is not None else await fetchrow(conn, sql.UNCHANGED, slug)
    assert row is not None  # the conflict that left it alone is the caller's row
    inserted = bool(row.pop("inserted"))
    return row, inserted


get_project = ROWS.get
require_project = ROWS.require
list_projects = ROWS.page


def project_bytes(row: Row) -> bytes:
    """A project as the API answers it (its GET, its PATCH): its ETag is
    the hash of these bytes."""
    return model_bytes(Project, row)


async def update_project(
    conn: AsyncConnection, project_id: uuid.UUID, data: ProjectUpdate, *, if_match: str | None
) -> Row:
    """Partial update; `project_metadata` is merged (JSON Merge Patch). With
    `if_match`, only if the project is still that version (412)."""
    await ROWS.require_version(conn, project_id, if_match, project_bytes)
    values: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    await require_visible(conn, sql.REFERENCES, values)
    row = await _written(conn, lambda: ROWS.update(conn, project_id, values))
    assert row is not None  # update answers the row or raises
    return row


async def delete_project(
    conn: AsyncConnection, project_id: uuid.UUID, *, if_match: str | None
) -> None:
    """Deletes its market research too; its contents stay, detached. With
    `if_match`, only if the project is still that version (412)."""
    await ROWS.require_version(conn, project_id, if_match, project_bytes)
    await ROWS.delete(conn, project_id)
