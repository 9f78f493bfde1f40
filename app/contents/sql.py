"""The SQL of contents that is not every table's (`app.db.rows.TableRows`):
Core compiled once, at import or (updates, by the fields sent) on first use,
or hand-written in asyncpg's `$n` style. Deleted contents (`deleted_at`) are
invisible to all of it but `RESTORE`."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, any_, bindparam, case, func, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from app.contents.schemas import STATUS_MOVES
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
from app.db.rows import Reference, Statement, Statements, bound, compile_sql, merge_patch

contents = cast(Table, Content.__table__)
content_minds = cast(Table, ContentMind.__table__)
content_tags = cast(Table, ContentTag.__table__)
tags = cast(Table, Tag.__table__)

# What a content is in the API (`Content`'s fields, in its order; not
# deleted_at): reads select exactly these, so a row serializes as the model.
COLUMNS = [contents.c[name] for name in ContentOut.model_fields]
ALIVE = contents.c.deleted_at.is_(None)

# The `tag` filter of a list: the content is one of those holding the tag of
# that name (as the caller may read them: both tables' policies apply), their
# ids gathered once into an array (an InitPlan) and probed by key. As a
# correlated EXISTS, a generic plan (asyncpg prepares, and after five runs
# PostgreSQL may keep one) could walk every visible content in page order
# and test each against the tag (seen with an index of the whole table's
# page order, tried for revision 0016: 4.0 ms for a tag on 2 contents among
# 13,300, where the array takes 0.65); and the array takes a creator's
# page of a tag on 2,660 contents from 16.6 to 10 ms. A tag on N contents
# costs N probes by key, as the hash join of its N rows did.
HAS_TAG = contents.c.id == any_(
    sql_cast(
        select(func.array_agg(content_tags.c.content_id))
        .where(content_tags.c.tag_id == tags.c.id, tags.c.name == bindparam("tag"))
        .scalar_subquery(),
        ARRAY(PG_UUID),
    )
)

# Frameworks (a global one or the caller's own) and generation runs (one the
# caller can read) must be visible, not merely exist.
REFERENCES = (
    Reference(cast(Table, ContentFramework.__table__), "framework_id", "framework"),
    Reference(
        cast(Table, JobExecution.__table__), "generation_execution_id", "generation execution"
    ),
)
# A mind attributed to a content: one the caller may see.
MIND = Reference(cast(Table, Mind.__table__), "mind_id", "mind")


def _update(names: tuple[str, ...], new_status: str | None) -> Any:
    """Set these fields of the live content `$row_id` (metadata merged). A
    status moves only from a status that may move there (or is a no-op),
    checked in the UPDATE itself so that two concurrent moves cannot both
    pass; a content becoming published is stamped, a repeated publish keeps
    its stamp."""
    conditions = [contents.c.id == bindparam("row_id"), ALIVE]
    values = {
        name: merge_patch(contents.c.metadata, name)
        if name == "metadata"
        else bound(contents, name)
        for name in names
    }
    if new_status is not None:
        allowed_from = [s for s, moves in STATUS_MOVES.items() if new_status in moves]
        conditions.append(
            contents.c.status.in_(
                [
                    bindparam(None, s, type_=contents.c.status.type)
                    for s in [*allowed_from, new_status]
                ]
            )
        )
        if new_status == "published":
            values["published_at"] = case(
                (contents.c.status == "published", contents.c.published_at), else_=func.now()
            )
    return update(contents).where(*conditions).values(values).returning(*COLUMNS)


# By (the fields set, in order; the new status or None).
UPDATE = Statements(_update)

# $1 the content: soft delete, answering its id.
SOFT_DELETE = compile_sql(
    update(contents)
    .where(contents.c.id == bindparam("id"), ALIVE)
    .values(deleted_at=func.now())
    .returning(contents.c.id)
)[0]

RESTORE = Statement(
    update(contents)
    .where(contents.c.id == bindparam("id"), contents.c.deleted_at.is_not(None))
    .values(deleted_at=None)
    .returning(*COLUMNS)
)

# $1 the content: locked for a change of its minds or tags, if the caller may.
LOCK_WRITABLE = compile_sql(
    select(contents.c.id)
    .where(contents.c.id == bindparam("id"), ALIVE)
    .with_for_update(of=contents, key_share=True)
)[0]

# $1 the content.
CONTENT_MINDS = compile_sql(
    select(content_minds)
    .where(content_minds.c.content_id == bindparam("content_id"))
    .order_by(content_minds.c.created_at, content_minds.c.mind_id)
)[0]

# $1 content, $2 mind, $3 role.
PUT_MIND = (
    "INSERT INTO content_minds (content_id, mind_id, role) VALUES ($1, $2, $3)"
    " ON CONFLICT (content_id, mind_id) DO UPDATE SET role = EXCLUDED.role"
    " RETURNING content_id, mind_id, role, created_at"
)

# $1 content, $2 mind.
DELETE_MIND = compile_sql(
    content_minds.delete()
    .where(
        content_minds.c.content_id == bindparam("content_id"),
        content_minds.c.mind_id == bindparam("mind_id"),
    )
    .returning(content_minds.c.mind_id)
)[0]

# $1 the content: its tags' names, sorted.
TAG_NAMES = compile_sql(
    select(tags.c.name)
    .join(content_tags, content_tags.c.tag_id == tags.c.id)
    .where(content_tags.c.content_id == bindparam("content_id"))
    .order_by(tags.c.name)
)[0]

# $1 the names, $2 the content: its tags become exactly these, unknown ones
# created, in one statement (a failure leaves the old set intact).
REPLACE_TAGS = """WITH wanted AS (SELECT DISTINCT unnest(CAST($1 AS text[])) AS name),
       created AS (
           INSERT INTO tags (name, tag_type) SELECT name, 'theme' FROM wanted
           ON CONFLICT (name) DO NOTHING RETURNING id, name),
       resolved AS (
           SELECT id FROM created
           UNION SELECT t.id FROM tags t JOIN wanted w ON w.name = t.name),
       removed AS (
           DELETE FROM content_tags
           WHERE content_id = $2 AND tag_id NOT IN (SELECT id FROM resolved)
           RETURNING tag_id)
       INSERT INTO content_tags (content_id, tag_id)
       SELECT $2, id FROM resolved
       ON CONFLICT (content_id, tag_id) DO NOTHING"""

# A single-node write's first lock (PATCH, move, DELETE, restore of a
# content): its project's row, before the content's own. The revision
# trigger (migration 0012) locks that row (FOR NO KEY UPDATE, for dense
# revision numbers) at the end of the write's statement, and a tree PUT locks
# it first and its contents after: taken in the other order, a PATCH racing
# a tree PUT of the same project deadlocked (40P01; tests/revisions/
# test_locks.py). Under the caller's RLS (the UPDATE policy, as the tree PUT's
# FOR UPDATE), which for both tables is the project's creator: whoever may change
# the content may lock its project; anyone else locks nothing and then
# changes nothing either.
LOCK_PROJECT_OF = """
SELECT p.id FROM content_projects p
WHERE p.id = (SELECT c.project_id FROM contents c WHERE c.id = $1) FOR NO KEY UPDATE OF p
"""

# Where a single-node write (create, patch, move) would put a content, for
# the rules of `app.contents.hierarchy`, in one statement under the caller's row
# level security (an invisible parent is no parent): the new parent $1 (NULL:
# a root), live, with its project, type and level; whether the content $2
# (NULL: a new one) is that parent or one of its ancestors; the content's
# live subtree's height, itself included; and its live children's types.
# Both walks stop at 64 levels, so data holding a cycle still answers.
PLACEMENT = """
WITH RECURSIVE up(id, parent_content_id, level) AS (
    SELECT id, parent_content_id, 1 FROM contents WHERE id = $1::uuid
    UNION ALL
    SELECT c.id, c.parent_content_id, up.level + 1
    FROM contents c JOIN up ON c.id = up.parent_content_id
    WHERE up.level < 64
), down(id, level) AS (
    SELECT id, 1 FROM contents WHERE id = $2::uuid
    UNION ALL
    SELECT c.id, down.level + 1
    FROM contents c JOIN down ON c.parent_content_id = down.id
    WHERE c.deleted_at IS NULL AND down.level < 64
)
SELECT p.project_id AS parent_project_id, p.content_type AS parent_type,
       (SELECT max(level) FROM up) AS parent_depth,
       EXISTS (SELECT 1 FROM up WHERE id = $2::uuid) AS cycle,
       coalesce((SELECT max(level) FROM down), 1) AS height,
       ARRAY(SELECT DISTINCT content_type FROM contents
             WHERE parent_content_id = $2::uuid AND deleted_at IS NULL) AS child_types
FROM (SELECT) AS one
LEFT JOIN contents p ON p.id = $1::uuid AND p.deleted_at IS NULL
"""
