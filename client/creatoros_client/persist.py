"""Saving a course: the flow both clients run, and what it reports.

The flow reads what the API has (the project by slug, its tree with
bodies, its reports), works out what will be created, updated or left
alone, then — unless it is a dry run — writes: the project (upsert by
slug), the whole tree (one PUT; nodes matched by slug keep their ids), and
the reports (matched by `report_data.source_file`, so a re-save adds no
duplicates). Every step is idempotent, which is what lets the outbox run a
queued save again after a crash without writing anything twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from creatoros_client import _ops
from creatoros_client import models as m
from creatoros_client._core import ApiError, Flow, PreconditionFailed
from creatoros_client.course import CoursePlan, ResearchEntry
from creatoros_client.models import Problem


class Counts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


class SaveResult(BaseModel):
    """What a save did (`saved`), would do (`planned`, a dry run) or left for
    later (`queued`: the API could not be reached; see `reason`)."""

    course: str
    folder: str
    status: Literal["saved", "planned", "queued"]
    project: Literal["created", "updated", "unchanged"] | None = None
    project_id: uuid.UUID | None = None
    nodes: Counts = Field(default_factory=Counts)
    research: Counts = Field(default_factory=Counts)
    warnings: list[str] = Field(default_factory=list)
    etag: str | None = None
    # The project revision the save made (issue 23); None when it changed no node.
    revision: int | None = None
    outbox_id: int | None = None
    reason: str | None = None
    # What changes, one line per node or report ("create lessons/1.1-intro.md").
    changes: list[str] = Field(default_factory=list)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the server applies metadata: objects merge, null deletes."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


@dataclass(frozen=True)
class _Placed:
    node: Any  # TreeNodeIn or TreeNode
    parent: str | None
    order: int | None


def _placed(nodes: list[Any], parent: str | None = None) -> Iterator[_Placed]:
    for index, node in enumerate(nodes, start=1):
        order = node.sequence_order if node.sequence_order is not None else index
        yield _Placed(node, parent, order)
        yield from _placed(node.children, node.slug)


def _same_node(want: _Placed, have: _Placed) -> bool:
    w, h = want.node, have.node
    return bool(
        want.parent == have.parent
        and want.order == have.order
        and w.title == h.title
        and w.content_type == h.content_type
        and (w.content or None) == (h.content or None)
        and w.file_path == h.file_path
        and merge_patch(h.metadata, w.metadata) == h.metadata
    )


def _name(node: Any) -> str:
    return str(node.file_path or node.slug)


def diff_nodes(
    plan: CoursePlan, tree: m.ContentTree | None, prune: bool, changes: list[str]
) -> Counts:
    """Count what the tree PUT will do, noting each change in `changes`."""
    have = {p.node.slug: p for p in _placed(tree.nodes)} if tree else {}
    counts = Counts()
    wanted = set()
    for want in _placed(plan.nodes):
        wanted.add(want.node.slug)
        old = have.get(want.node.slug)
        if old is None:
            counts.created += 1
            changes.append(f"create {_name(want.node)}")
        elif _same_node(want, old):
            counts.unchanged += 1
        else:
            counts.updated += 1
            changes.append(f"update {_name(want.node)}")
    if prune:
        gone = sorted(set(have) - wanted)
        counts.deleted = len(gone)
        changes += [f"delete {_name(have[slug].node)}" for slug in gone]
    return counts


def _same_project(plan: CoursePlan, project: m.Project) -> bool:
    want = plan.project
    return (
        want.name == project.name
        and want.project_type == project.project_type
        and want.description == project.description
        and (want.status is None or want.status == project.status)
        and want.persona_mind_id == project.persona_mind_id
        and merge_patch(project.project_metadata, want.project_metadata) == project.project_metadata
    )


def _source_of(report: m.MarketResearch) -> str | None:
    source = report.report_data.get("source_file")
    return source if isinstance(source, str) else None


def _same_report(entry: ResearchEntry, report: m.MarketResearch) -> bool:
    return (
        entry.research_type == report.research_type
        and entry.title == report.title
        and entry.body == report.body
        and entry.report_data == report.report_data
    )


def _latest_revision(project_id: uuid.UUID) -> Flow[int | None]:
    """The project's latest revision: the one a tree PUT that changed nodes
    just made (None from a server without revisions, which answers 404)."""
    try:
        page: m.Page[m.Revision] = yield _ops.revisions(project_id, 1, None)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    return page.items[0].number if page.items else None


def save_course_flow(
    plan: CoursePlan, *, prune: bool = False, dry_run: bool = False, if_match: str | None = None
) -> Flow[SaveResult]:
    """The whole save as a flow of calls (run by `Client.run` or `AsyncClient.run`).

    With `if_match` (the tree's ETag from an earlier save's `.etag` or a
    read), the save happens only if the course's tree is still that version:
    the tree PUT goes first, with `If-Match`, so a 412 (`PreconditionFailed`)
    leaves the project and the tree as they were; then the project and the
    reports are written. A course the API does not have yet fails it too."""
    result = SaveResult(
        course=plan.slug, folder=plan.folder, status="planned" if dry_run else "saved",
        warnings=list(plan.warnings),
    )  # fmt: skip
    me: m.Me = yield _ops.me()
    page: m.Page[m.Project] = yield _ops.PROJECTS.list(200, None, {"slug": plan.slug})
    existing = next((p for p in page.items if p.creator_mind_id == me.mind_id), None)
    tree: m.ContentTree | None = None
    reports: list[m.MarketResearch] = []
    if existing is not None:
        tree = (yield _ops.get_tree(existing.id, True, None, None)).tree
        cursor: str | None = None
        while True:
            listed: m.Page[m.MarketResearch] = yield _ops.list_research(
                existing.id, 200, cursor, None
            )
            reports += listed.items
            if listed.next_cursor is None:
                break
            cursor = listed.next_cursor
    result.project_id = existing.id if existing else None
    result.nodes = diff_nodes(plan, tree, prune, result.changes)

    by_source = {s: r for r in reports if (s := _source_of(r)) is not None}
    creates: list[ResearchEntry] = []
    updates: list[tuple[m.MarketResearch, ResearchEntry]] = []
    for entry in plan.research:
        old = by_source.get(entry.source_file)
        if old is None:
            creates.append(entry)
        elif _same_report(entry, old):
            result.research.unchanged += 1
        else:
            updates.append((old, entry))
    planned = {e.source_file for e in plan.research}
    stale = [r for s, r in by_source.items() if s not in planned] if prune else []
    result.research.created, result.research.updated = len(creates), len(updates)
    result.research.deleted = len(stale)
    result.changes += [f"create report {e.source_file}" for e in creates]
    result.changes += [f"update report {e.source_file}" for _, e in updates]
    result.changes += [f"delete report {_source_of(r)}" for r in stale]
    if dry_run:
        result.project = (
            "created" if existing is None
            else "unchanged" if _same_project(plan, existing) else "updated"
        )  # fmt: skip
        return result

    if if_match is not None:
        if existing is None:
            raise PreconditionFailed(412, Problem(
                title="Precondition Failed", status=412,
                detail=f"no project {plan.slug!r} to save over: If-Match needs one",
            ), "PUT", f"/v1/projects/by-slug/{plan.slug}")  # fmt: skip
        written: _ops.Tree = yield _ops.put_tree(existing.id, plan.nodes, prune, if_match)
        result.etag = written.etag
    project: m.Project = yield _ops.upsert_project(plan.slug, plan.project)
    result.project_id = project.id
    if existing is None:
        result.project = "created"
    else:
        result.project = "unchanged" if project.updated_at == existing.updated_at else "updated"
    if if_match is None:
        written = yield _ops.put_tree(project.id, plan.nodes, prune)
        result.etag = written.etag
    elif result.project == "updated":
        # The tree carries its project: its ETag moved with the project.
        result.etag = yield _ops.tree_etag(project.id)
    if result.nodes.created or result.nodes.updated or result.nodes.deleted:
        # The PUT names the revision it made; else (a server without the
        # header, or a PUT that recorded none) ask for the latest one.
        result.revision = written.revision
        if result.revision is None:
            result.revision = yield from _latest_revision(project.id)
    for entry in creates:
        yield _ops.create_research(project.id, entry.create_body(), entry.idempotency_key)
    for old, entry in updates:
        yield _ops.RESEARCH.update(old.id, entry.create_body())
    for report in stale:
        yield _ops.RESEARCH.delete(report.id)
    return result
