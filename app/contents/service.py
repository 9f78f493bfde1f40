"""Contents in SQL. Row level security scopes every statement to the caller;
deleted contents (soft delete, `deleted_at`) are invisible here except to
`restore_content`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contents import hierarchy, sql
from app.contents.schemas import STATUS_MOVES, Content, ContentCreate, ContentUpdate
from app.db.rows import Row, TableRows, fetchrow, require_visible
from app.db.tenancy import Reader, execute, fetch
from app.http.problems import (
    Conflict,
    Cycle,
    InvalidParent,
    InvalidReference,
    InvalidStatusTransition,
    InvalidTree,
    NotFound,
    ReadOnly,
    sqlstate_of,
)
from app.http.schemas import model_bytes
from app.projects.service import insert_under_project

# Visible but not writable: a published content of another creator, or one
# the caller is the persona of.
ROWS = TableRows(
    sql.contents, "content", "you can read this content but not change it",
    columns=sql.COLUMNS, live=sql.ALIVE, conditions={"tag": sql.HAS_TAG},
)  # fmt: skip
content_not_found = ROWS.not_found
get_content = ROWS.get
require_content = ROWS.require
refused_write = ROWS.refusal


async def check_placement(
    conn: AsyncConnection,
    project_id: uuid.UUID | None,
    parent_id: uuid.UUID | None,
    content_type: str,
    *,
    node_id: uuid.UUID | None = None,
    moved: bool = True,
    retyped: bool = False,
    parent_field: str = "parent_content_id",
    type_field: str | None = "content_type",
) -> None:
    """Where a content lands (under `parent_id`, None for a root) the tree's
    rules hold, as on the tree PUT: the parent is a live content of the same
    project, not the content itself or one of its descendants, may hold its
    type; a `moved` content's subtree stays within the depth limit; a
    `retyped` one may still hold its children. One statement."""
    row = await fetchrow(conn, sql.PLACEMENT, parent_id, node_id)
    assert row is not None  # the statement always answers one row
    if parent_id is not None:
        if row["parent_type"] is None:
            raise InvalidParent(f"parent content {parent_id} does not exist")
        if row["parent_project_id"] != project_id:
            raise InvalidParent("the parent belongs to another project")
        if row["cycle"]:
            raise Cycle("the new parent is the content itself or one of its descendants")
    found = hierarchy.misplacements(
        hierarchy.Placement(
            content_type, row["parent_type"],
            depth=(row["parent_depth"] or 0) + 1 if moved else None, height=row["height"],
            child_types=frozenset(row["child_types"]) if retyped else frozenset(),
        )
    )  # fmt: skip
    if found:
        errors = hierarchy.placement_errors(found, parent_field=parent_field, type_field=type_field)
        raise InvalidTree("the tree would not be valid; nothing was written").with_errors(errors)


async def _check_new_place(
    conn: AsyncConnection, content_id: uuid.UUID, values: dict[str, Any]
) -> None:
    """A patch that moves or retypes a content keeps the tree's rules."""
    before = await require_content(conn, content_id)
    moved = "parent_content_id" in values
    new_type: str = values.get("content_type") or before["content_type"]
    retyped = new_type != before["content_type"]
    parent = values["parent_content_id"] if moved else before["parent_content_id"]
    if not retyped and (parent is None or not moved):
        return  # the same type in the same place, or a root: no rule to break
    await check_placement(
        conn, before["project_id"], parent and uuid.UUID(str(parent)), new_type,
        node_id=content_id, moved=moved, retyped=retyped,
        type_field="content_type" if "content_type" in values else None,
    )  # fmt: skip


async def create_content(conn: AsyncConnection, data: ContentCreate) -> Row:
    if data.parent_content_id is not None:
        await check_placement(
            conn, data.project_id, data.parent_content_id, data.content_type.value
        )
    values = data.model_dump(mode="json")
    await require_visible(conn, sql.REFERENCES, values)
    try:
        return await insert_under_project(conn, data.project_id, ROWS, values)
    except DBAPIError as exc:
        if sqlstate_of(exc) == "23505":
            raise Conflict(
                f"this project already has a content with slug {data.slug!r} "
                "(a deleted one keeps its slug: restore it instead)"
            ) from exc
        raise


# A page of contents; `filters` are columns, and `tag` (a tag name).
list_contents = ROWS.page


def content_bytes(row: Row) -> bytes:
    """A content as the API answers it (its GET, its PATCH): its ETag is the
    hash of these bytes."""
    return model_bytes(Content, row)


async def lock_project_of(conn: AsyncConnection, content_id: uuid.UUID) -> None:
    """Lock the content's project row before the content's (see
    `sql.LOCK_PROJECT_OF`): the order the tree PUT and the revision
    trigger take them in, so a single-node write never deadlocks with them."""
    await fetchrow(conn, sql.LOCK_PROJECT_OF, content_id)


async def update_content(
    conn: AsyncConnection, content_id: uuid.UUID, data: ContentUpdate, *, if_match: str | None
) -> Row:
    """With `if_match`, only if the content is still that version (412).
    The project's row is locked first, before `require_version` locks the
    content's (`lock_project_of`)."""
    await lock_project_of(conn, content_id)
    await ROWS.require_version(conn, content_id, if_match, content_bytes)
    values: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    if not values:
        return await require_content(conn, content_id)
    if values.get("parent_content_id") is not None or "content_type" in values:
        await _check_new_place(conn, content_id, values)
    await require_visible(conn, sql.REFERENCES, values)
    new_status = values.get("status")
    statement = sql.UPDATE(tuple(values), new_status)
    row = await fetchrow(conn, *statement.bind({**values, "row_id": content_id}))
    if row is not None:
        return row
    # Nothing matched: invisible (404), a refused status move (409), or
    # visible but not the caller's to change (403).
    current = await get_content(conn, content_id)
    if current is None:
        raise content_not_found(content_id)
    status = current["status"] or "draft"
    if new_status is not None and new_status != status and new_status not in STATUS_MOVES[status]:
        allowed = ", ".join(sorted(STATUS_MOVES[status])) or "none"
        raise InvalidStatusTransition(
            f"a {status} content cannot become {new_status} (allowed: {allowed})"
        )
    raise ReadOnly("you can read this content but not change it")


async def delete_content(
    conn: AsyncConnection, content_id: uuid.UUID, *, if_match: str | None
) -> None:
    """Soft delete: the row stays (with its children) until purged. With
    `if_match`, only if the content is still that version (412)."""
    await lock_project_of(conn, content_id)
    await ROWS.require_version(conn, content_id, if_match, content_bytes)
    if await fetchrow(conn, sql.SOFT_DELETE, content_id) is None:
        raise await refused_write(conn, content_id)


async def restore_content(conn: AsyncConnection, content_id: uuid.UUID) -> Row:
    await lock_project_of(conn, content_id)
    row = await fetchrow(conn, *sql.RESTORE.bind({"id": content_id}))
    if row is None:
        # Already live (nothing to restore) is fine; invisible is 404.
        return await require_content(conn, content_id)
    return row


# ---- minds and tags of a content -------------------------------------------------------


async def _require_writable(conn: AsyncConnection, content_id: uuid.UUID) -> None:
    """Lock the content for this change; 404 when invisible, 403 when read-only."""
    if await fetchrow(conn, sql.LOCK_WRITABLE, content_id) is None:
        raise await refused_write(conn, content_id)


async def list_content_minds(conn: Reader, content_id: uuid.UUID) -> list[Row]:
    await require_content(conn, content_id)
    return [dict(row) for row in await fetch(conn, sql.CONTENT_MINDS, content_id)]


async def put_content_mind(
    conn: AsyncConnection, content_id: uuid.UUID, mind_id: uuid.UUID, role: str
) -> Row:
    await _require_writable(conn, content_id)
    # A foreign key sees every mind; only a mind the caller may see counts,
    # so a private mind's existence is not revealed.
    if await fetchrow(conn, sql.MIND.sql, mind_id) is None:
        raise InvalidReference(f"mind {mind_id} does not exist")
    row = await fetchrow(conn, sql.PUT_MIND, content_id, mind_id, role)
    assert row is not None  # an upsert … RETURNING answers its row
    return row


async def delete_content_mind(
    conn: AsyncConnection, content_id: uuid.UUID, mind_id: uuid.UUID
) -> None:
    await _require_writable(conn, content_id)
    if await fetchrow(conn, sql.DELETE_MIND, content_id, mind_id) is None:
        raise NotFound(f"mind {mind_id} is not attributed to this content")


async def list_content_tags(conn: Reader, content_id: uuid.UUID) -> list[str]:
    await require_content(conn, content_id)
    return await _tag_names(conn, content_id)


async def _tag_names(conn: Reader, content_id: uuid.UUID) -> list[str]:
    return [row[0] for row in await fetch(conn, sql.TAG_NAMES, content_id)]


async def replace_content_tags(
    conn: AsyncConnection, content_id: uuid.UUID, names: list[str]
) -> list[str]:
    """Make the content's tags exactly `names`, creating unknown tags: one
    statement, so a failure leaves the old set intact."""
    await _require_writable(conn, content_id)
    await execute(conn, sql.REPLACE_TAGS, names, content_id)
    return await _tag_names(conn, content_id)
