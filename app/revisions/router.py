"""Project revisions over HTTP (issue 23). The tree at a revision is the
tree read's (`GET /projects/{id}/tree?revision=N`, app.trees.router)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.db.sessions import UserReadSession, WriteSession
from app.http.ids import ProjectId
from app.http.pagination import Page, PageQuery
from app.http.problems import problem_responses
from app.http.routes import operation, resource_router
from app.idempotency import IdempotencyKey
from app.revisions import service
from app.revisions.schemas import Revision, RevisionDiff

router = resource_router("/projects/{project_id}", "revisions")

RevisionNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="The revision's number.")]


@router.get("/revisions", **operation("List a project's revisions", "listProjectRevisions", 404))
async def list_revisions(
    project_id: ProjectId, conn: UserReadSession, page: PageQuery
) -> Page[Revision]:
    """Every write that changed the project's nodes, the latest first: who,
    when, the request, and a one-line summary. Its creator's only: anyone
    else (a persona, a reader of published contents, anon) gets a 404."""
    rows, next_cursor = await service.list_revisions(conn, project_id, **page)
    return Page[Revision](items=[service.revision_model(r) for r in rows], next_cursor=next_cursor)


@router.get("/revisions/{number}", **operation("Get a project revision", "getProjectRevision", 404))
async def get_revision(
    project_id: ProjectId, number: RevisionNumber, conn: UserReadSession
) -> Revision:
    """One revision of the project: who, when, the request, and what it
    changed. Its creator's only, as the list."""
    return service.revision_model(await service.get_revision(conn, project_id, number))


@router.get("/diff", **operation("Diff two project revisions", "diffProjectRevisions", 404))
async def diff_revisions(
    project_id: ProjectId,
    conn: UserReadSession,
    start: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1, description="A revision.")],
    end: Annotated[int, Query(alias="to", ge=1, le=2**31 - 1, description="Another one.")],
) -> RevisionDiff:
    """Per node: added, removed, moved (parent or order only) or changed,
    the fields that differ with their values at each side, and a unified
    diff of the body."""
    return await service.diff(conn, project_id, start, end)


@router.post(
    "/revisions/{number}/restore",
    **operation(
        "Restore a project revision",
        "restoreProjectRevision",
        status_code=201,
        responses={
            **problem_responses(404, 409),
            200: {"model": Revision, "description": "The tree already was that."},
        },
    ),
)
async def restore_revision(
    project_id: ProjectId,
    number: RevisionNumber,
    conn: WriteSession,
    idempotency: IdempotencyKey,
) -> Revision:
    """The project's nodes back as they were after that revision (bodies,
    titles, order, parents, status, metadata; nodes made later soft-deleted),
    recorded as a new revision (201). 200 with the latest revision when the
    tree already was that."""
    row, made = await service.restore(conn, project_id, number)
    answer = service.revision_model(row)
    if made:
        location = f"/v1/projects/{project_id}/revisions/{answer.number}"
        return await idempotency.created(answer, location)
    idempotency.response.status_code = 200
    return await idempotency.record(answer, 200)
