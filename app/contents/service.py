"""Contents in SQL. Row level security scopes every statement to the caller;
deleted contents (soft delete, `deleted_at`) are invisible here except to
`restore_content`."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import (
    RowMapping,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contents.schemas import STATUS_MOVES, ContentCreate, ContentUpdate
from app.contents.schemas import Content as ContentOut
from app.db.models import (
    Content,
    ContentFramework,
    ContentMind,
    ContentTag,
    JobExecution,
    Mind,
    Tag,
)
from app.db.rows import Row, TableRows, compile_sql, merge_patch, require_visible
from app.db.tenancy import Reader, fetch
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
from app.projects.service import insert_under_project
from app.trees import shape
from app.trees import sql as trees_sql

contents = cast(Table, Content.__table__)
content_minds = cast(Table, ContentMind.__table__)
content_tags = cast(Table, ContentTag.__table__)
tags = cast(Table, Tag.__table__)
minds = cast(Table, Mind.__table__)
frameworks = cast(Table, ContentFramework.__table__)
job_executions = cast(Table, JobExecution.__table__)

# What a content is in the API (`Content`'s fields, in its order; not
# deleted_at): reads select exactly these, so a row serializes as the model.
_COLUMNS = [contents.c[name] for name in ContentOut.model_fields]
_ALIVE = contents.c.deleted_at.is_(None)


# Visible but not writable: a published content of another creator, or one
# the caller is the persona of.
ROWS = TableRows(
    contents, "content", "you can read this content but not change it",
    columns=_COLUMNS, live=_ALIVE,
    conditions={
        "tag": exists().where(
            content_tags.c.content_id == contents.c.id,
            content_tags.c.tag_id == tags.c.id,
            tags.c.name == bindparam("tag"),
        )
    },
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
    result = await conn.exec_driver_sql(trees_sql.PLACEMENT, (parent_id, node_id))
    row = result.mappings().one()
    if parent_id is not None:
        if row["parent_type"] is None:
            raise InvalidParent(f"parent content {parent_id} does not exist")
        if row["parent_project_id"] != project_id:
            raise InvalidParent("the parent belongs to another project")
        if row["cycle"]:
            raise Cycle("the new parent is the content itself or one of its descendants")
    found = shape.misplacements(
        shape.Placement(
            content_type, row["parent_type"],
            depth=(row["parent_depth"] or 0) + 1 if moved else None, height=row["height"],
            child_types=frozenset(row["child_types"]) if retyped else frozenset(),
        )
    )  # fmt: skip
    if found:
        errors = shape.placement_errors(found, parent_field=parent_field, type_field=type_field)
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


async def _check_references(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Frameworks (a global one or the caller's own) and generation runs (one
    the caller can read) must be visible, not merely exist."""
    await require_visible(
        conn, frameworks, values.get("framework_id"), field="framework_id", noun="framework"
    )
    await require_visible(
        conn,
        job_executions,
        values.get("generation_execution_id"),
        field="generation_execution_id",
        noun="generation execution",
    )


async def create_content(conn: AsyncConnection, data: ContentCreate) -> RowMapping:
    if data.parent_content_id is not None:
        await check_placement(
            conn, data.project_id, data.parent_content_id, data.content_type.value
        )
    values = data.model_dump(mode="json")
    await _check_references(conn, values)
    statement = insert(contents).values(values).returning(*_COLUMNS)
    try:
        result = await insert_under_project(conn, data.project_id, statement)
    except DBAPIError as exc:
        if sqlstate_of(exc) == "23505":
            raise Conflict(
                f"this project already has a content with slug {data.slug!r} "
                "(a deleted one keeps its slug: restore it instead)"
            ) from exc
        raise
    return result.mappings().one()


async def list_contents(
    conn: Reader,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    """A page of contents; `filters` are columns, and `tag` (a tag name)."""
    return await ROWS.page(conn, filters=filters, limit=limit, cursor=cursor)


async def update_content(conn: AsyncConnection, content_id: uuid.UUID, data: ContentUpdate) -> Row:
    values: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    if not values:
        return await require_content(conn, content_id)
    conditions = [contents.c.id == content_id, _ALIVE]
    if values.get("parent_content_id") is not None or "content_type" in values:
        await _check_new_place(conn, content_id, values)
    await _check_references(conn, values)
    if "metadata" in values:
        values["metadata"] = merge_patch(contents.c.metadata, values["metadata"])
    new_status = values.get("status")
    if new_status is not None:
        # Only from a status that may move here (or a no-op), checked in the
        # UPDATE itself so that two concurrent moves cannot both pass.
        allowed_from = [s for s, moves in STATUS_MOVES.items() if new_status in moves]
        conditions.append(contents.c.status.in_([*allowed_from, new_status]))
        if new_status == "published":
            # Stamped when it becomes published; a repeated publish keeps it.
            values["published_at"] = case(
                (contents.c.status == "published", contents.c.published_at), else_=func.now()
            )
    result = await conn.execute(
        update(contents).where(and_(*conditions)).values(values).returning(*_COLUMNS)
    )
    row = result.mappings().one_or_none()
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


async def delete_content(conn: AsyncConnection, content_id: uuid.UUID) -> None:
    """Soft delete: the row stays (with its children) until purged."""
    result = await conn.execute(
        update(contents)
        .where(contents.c.id == content_id, _ALIVE)
        .values(deleted_at=func.now())
        .returning(contents.c.id)
    )
    if result.first() is None:
        raise await refused_write(conn, content_id)


async def restore_content(conn: AsyncConnection, content_id: uuid.UUID) -> Row:
    result = await conn.execute(
        update(contents)
        .where(contents.c.id == content_id, contents.c.deleted_at.is_not(None))
        .values(deleted_at=None)
        .returning(*_COLUMNS)
    )
    row = result.mappings().one_or_none()
    if row is None:
        # Already live (nothing to restore) is fine; invisible is 404.
        return await require_content(conn, content_id)
    return row


# ---- minds and tags of a content -------------------------------------------------------


async def _require_writable(conn: AsyncConnection, content_id: uuid.UUID) -> None:
    """Lock the content for this change; 404 when invisible, 403 when read-only."""
    locked = await conn.execute(
        select(contents.c.id)
        .where(contents.c.id == content_id, _ALIVE)
        .with_for_update(of=contents, key_share=True)
    )
    if locked.first() is None:
        raise await refused_write(conn, content_id)


_CONTENT_MINDS = compile_sql(
    select(content_minds)
    .where(content_minds.c.content_id == bindparam("content_id"))
    .order_by(content_minds.c.created_at, content_minds.c.mind_id)
)[0]


async def list_content_minds(conn: Reader, content_id: uuid.UUID) -> list[Row]:
    await require_content(conn, content_id)
    return [dict(row) for row in await fetch(conn, _CONTENT_MINDS, content_id)]


async def put_content_mind(
    conn: AsyncConnection, content_id: uuid.UUID, mind_id: uuid.UUID, role: str
) -> RowMapping:
    await _require_writable(conn, content_id)
    # A foreign key sees every mind; only a mind the caller may see counts,
    # so a private mind's existence is not revealed.
    if (await conn.execute(select(minds.c.id).where(minds.c.id == mind_id))).first() is None:
        raise InvalidReference(f"mind {mind_id} does not exist")
    statement = text(
        "INSERT INTO content_minds (content_id, mind_id, role) VALUES (:c, :m, :r)"
        " ON CONFLICT (content_id, mind_id) DO UPDATE SET role = EXCLUDED.role"
        " RETURNING content_id, mind_id, role, created_at"
    )
    result = await conn.execute(statement, {"c": content_id, "m": mind_id, "r": role})
    return result.mappings().one()


async def delete_content_mind(
    conn: AsyncConnection, content_id: uuid.UUID, mind_id: uuid.UUID
) -> None:
    await _require_writable(conn, content_id)
    result = await conn.execute(
        content_minds.delete()
        .where(content_minds.c.content_id == content_id, content_minds.c.mind_id == mind_id)
        .returning(content_minds.c.mind_id)
    )
    if result.first() is None:
        raise NotFound(f"mind {mind_id} is not attributed to this content")


async def list_content_tags(conn: Reader, content_id: uuid.UUID) -> list[str]:
    await require_content(conn, content_id)
    return await _tag_names(conn, content_id)


_TAG_NAMES = compile_sql(
    select(tags.c.name)
    .join(content_tags, content_tags.c.tag_id == tags.c.id)
    .where(content_tags.c.content_id == bindparam("content_id"))
    .order_by(tags.c.name)
)[0]


async def _tag_names(conn: Reader, content_id: uuid.UUID) -> list[str]:
    return [row[0] for row in await fetch(conn, _TAG_NAMES, content_id)]


_REPLACE_TAGS = text(
    """WITH wanted AS (SELECT DISTINCT unnest(CAST(:names AS text[])) AS name),
       created AS (
           INSERT INTO tags (name, tag_type) SELECT name, 'theme' FROM wanted
           ON CONFLICT (name) DO NOTHING RETURNING id, name),
       resolved AS (
           SELECT id FROM created
           UNION SELECT t.id FROM tags t JOIN wanted w ON w.name = t.name),
       removed AS (
           DELETE FROM content_tags
           WHERE content_id = :content AND tag_id NOT IN (SELECT id FROM resolved)
           RETURNING tag_id)
       INSERT INTO content_tags (content_id, tag_id)
       SELECT :content, id FROM resolved
       ON CONFLICT (content_id, tag_id) DO NOTHING"""
)


async def replace_content_tags(
    conn: AsyncConnection, content_id: uuid.UUID, names: list[str]
) -> list[str]:
    """Make the content's tags exactly `names`, creating unknown tags: one
    statement, so a failure leaves the old set intact."""
    await _require_writable(conn, content_id)
    await conn.execute(_REPLACE_TAGS, {"names": names, "content": content_id})
    return await _tag_names(conn, content_id)
