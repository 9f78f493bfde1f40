"""Project revisions: listed, read as a tree, diffed and restored. The
database records them (migration 0012's trigger on `contents`); this module
only reads them, and restores one by writing `contents` like any write."""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.rows import Row, fetchrow
from app.db.tenancy import Reader, execute, fetch, fetchval
from app.http.pagination import decode_key, encode_key, invalid_cursor
from app.http.problems import Conflict, NotFound, sqlstate_of
from app.projects.service import project_not_found, require_project
from app.revisions import sql
from app.revisions.schemas import DIFF_FIELDS, PLACE_FIELDS, NodeChange, Revision, RevisionDiff
from app.trees import shape
from app.trees.service import TreeAnswer, tree_answer


async def require_history(conn: Reader, project_id: uuid.UUID) -> None:
    """The caller reads this project's history: it is the project's creator.
    Anyone else gets a 404, whether or not it may read the project: the
    history holds drafts and deleted text (anon has no grant at all)."""
    owned = await fetchval(conn, sql.OWNED, project_id)
    if owned is None:
        raise project_not_found(project_id)
    if not owned:
        raise NotFound(f"the revisions of project {project_id} are its creator's only")


def revision_not_found(project_id: uuid.UUID, number: int) -> NotFound:
    return NotFound(f"project {project_id} has no revision {number}")


async def require_revision(conn: Reader, project_id: uuid.UUID, number: int) -> Row:
    row = await fetchrow(conn, sql.GET, project_id, number)
    if row is None:
        raise revision_not_found(project_id, number)
    return row


async def list_revisions(
    conn: Reader, project_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The project's revisions, the latest first; the cursor is a number."""
    await require_history(conn, project_id)
    before: int | None = None
    if cursor is not None:
        (before,) = decode_key(cursor, 1)
        if not isinstance(before, int) or isinstance(before, bool):
            raise invalid_cursor()
    rows = [dict(r) for r in await fetch(conn, sql.LIST, project_id, before, limit + 1)]
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_key(rows[limit - 1]["number"])


async def get_revision(conn: Reader, project_id: uuid.UUID, number: int) -> Row:
    await require_history(conn, project_id)
    return await require_revision(conn, project_id, number)


async def read_tree_at(
    conn: Reader, project_id: uuid.UUID, number: int, *, include_body: bool, max_depth: int
) -> TreeAnswer:
    """The tree as it was after revision `number`, in the live tree's shape
    (the project as it is now)."""
    await require_history(conn, project_id)
    await require_revision(conn, project_id, number)
    project = await require_project(conn, project_id)
    rows = await fetch(conn, sql.TREE_AT, project_id, number, include_body)
    return tree_answer(project, shape.nest(rows, include_body=include_body, max_depth=max_depth))


# ---- diff ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A field's value as JSON shows it (ids and numbers as the tree answers them)."""
    return str(value) if isinstance(value, uuid.UUID) else value


@dataclass(frozen=True)
class Bodies:
    """The bodies a diff's states name: stored (by hash) and live (by node)."""

    stored: dict[bytes, str]
    live: dict[uuid.UUID, str | None]

    def of(self, state: Row | None) -> str | None:
        if state is None:
            return None
        sha = state["body_sha256"]
        if sha is None:  # still the live row's
            return self.live.get(state["id"])
        return self.stored.get(sha) if sha else None  # b"": no body


def _node_change(
    before: Row | None, after: Row | None, bodies: Bodies, labels: tuple[str, str]
) -> NodeChange | None:
    """How a node differs between two states (None: it does not)."""
    node = after or before
    assert node is not None
    old_body, new_body = bodies.of(before), bodies.of(after)
    if before is None or after is None:
        change = "added" if before is None else "removed"
        fields = [*DIFF_FIELDS, "content"]
    else:
        fields = [f for f in DIFF_FIELDS if before[f] != after[f]]
        if old_body != new_body:
            fields.append("content")
        if not fields:
            return None
        change = "moved" if set(fields) <= PLACE_FIELDS else "changed"
    old_body, new_body = old_body or "", new_body or ""
    body_diff = None
    if "content" in fields and old_body != new_body:
        body_diff = "".join(
            difflib.unified_diff(
                old_body.splitlines(keepends=True),
                new_body.splitlines(keepends=True),
                fromfile=f"{node['slug']}@{labels[0]}",
                tofile=f"{node['slug']}@{labels[1]}",
            )
        )
    shown = [f for f in fields if f != "content"]
    return NodeChange(
        id=node["id"],
        slug=node["slug"],
        title=node["title"],
        change=change,  # type: ignore[arg-type]
        fields=fields,
        before={f: _plain(before[f]) for f in shown} if before is not None else {},
        after={f: _plain(after[f]) for f in shown} if after is not None else {},
        body_diff=body_diff,
    )


async def diff(conn: Reader, project_id: uuid.UUID, start: int, end: int) -> RevisionDiff:
    """Per node, what changed from revision `start` to revision `end` (either
    way round), bodies as unified diffs. Two index scans; only the bodies
    that differ are read."""
    await require_history(conn, project_id)
    for number in (start, end):
        await require_revision(conn, project_id, number)
    old = {r["id"]: dict(r) for r in await fetch(conn, sql.STATES_AT, project_id, start)}
    new = {r["id"]: dict(r) for r in await fetch(conn, sql.STATES_AT, project_id, end)}
    differing = [
        (old.get(i), new.get(i))
        for i in old.keys() | new.keys()
        if old.get(i) is None or new.get(i) is None or old[i] != new[i]
    ]
    sides = [r for pair in differing for r in pair if r is not None]
    hashes = list({r["body_sha256"] for r in sides if r["body_sha256"]})
    live = list({r["id"] for r in sides if r["body_sha256"] is None})
    bodies = Bodies(
        {r[0]: r[1] for r in await fetch(conn, sql.STORED_BODIES, project_id, hashes)},
        {r[0]: r[1] for r in await fetch(conn, sql.LIVE_BODIES, live)} if live else {},
    )
    labels = (str(start), str(end))
    changes = [c for a, b in differing if (c := _node_change(a, b, bodies, labels)) is not None]
    changes.sort(key=lambda c: (c.slug, str(c.id)))
    return RevisionDiff(project_id=project_id, from_revision=start, to_revision=end, nodes=changes)


# ---- restore ------------------------------------------------------------------------


async def restore(conn: AsyncConnection, project_id: uuid.UUID, number: int) -> tuple[Row, bool]:
    """Put the project's nodes back as they were after revision `number`:
    recorded as a new revision (noted "restored revision N"), answered with
    whether one was made (False: the tree already was that; the latest
    revision is answered)."""
    await require_history(conn, project_id)
    await require_revision(conn, project_id, number)
    if await fetchrow(conn, sql.LOCK_PROJECT, project_id) is None:
        raise NotFound(f"the revisions of project {project_id} are its creator's only")
    await execute(conn, sql.NOTE, f"restored revision {number}")
    try:
        await execute(conn, sql.RESTORE_NODES, project_id, number)
        await execute(conn, sql.REMOVE_LATER_NODES, project_id, number)
    except DBAPIError as exc:
        if sqlstate_of(exc) == "23505":
            raise Conflict(
                "a node's slug of that revision is now another node's; rename it, then retry"
            ) from exc
        raise
    made = await fetchrow(conn, sql.THIS_TRANSACTIONS, project_id)
    if made is not None:
        return made, True
    latest = await fetchrow(conn, sql.LIST, project_id, None, 1)
    assert latest is not None  # the revision restored exists
    return latest, False


def revision_model(row: Row) -> Revision:
    return Revision.model_validate(dict(row))


# ---- retention ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    revisions: int
    history_rows: int
    bodies: int


def _count(status: str) -> int:
    """The row count of an asyncpg command status (`DELETE 3`, `UPDATE 2`)."""
    return int(status.rsplit(" ", 1)[-1])


async def prune(
    conn: Reader, *, keep_last: int, daily: bool, project_id: uuid.UUID | None, dry_run: bool
) -> Pruned:
    """Apply the retention rule (the last `keep_last` revisions of each
    project, and with `daily` the latest of each UTC day): fold the others
    into the next kept revision, so no kept revision's tree changes; then
    drop the bodies nothing names. With `dry_run`, only count. Run as
    service_role (the API roles cannot write history)."""
    if dry_run:
        count = await fetchval(conn, sql.PRUNE_COUNT, keep_last, daily, project_id)
        return Pruned(int(count), 0, 0)
    args = (keep_last, daily, project_id)
    superseded = _count(await execute(conn, sql.PRUNE_SUPERSEDED, *args))
    folded = await fetch(conn, sql.PRUNE_FOLD, *args)
    revisions = _count(await execute(conn, sql.PRUNE_REVISIONS, *args))
    targets = {(r["project_id"], r["revision"]) for r in folded}
    await execute(conn, sql.RECOUNT, [p for p, _ in targets], [n for _, n in targets])
    bodies = _count(await execute(conn, sql.PRUNE_BODIES, project_id))
    return Pruned(revisions, superseded, bodies)
