from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Response, status

from app.auth import PUBLIC_READ
from app.db.sessions import ReadSession, WriteSession
from app.http.ids import ProjectId
from app.http.pagination import ListQuery, ListRequest, Page
from app.http.routes import model_page, operation, resource_router
from app.http.schemas import SLUG_PATTERN
from app.idempotency import ConditionalWriteSession, IdempotencyKey, etag_of
from app.projects import service
from app.projects.schemas import (
    Project,
    ProjectCreate,
    ProjectStatus,
    ProjectType,
    ProjectUpdate,
    ProjectUpsert,
)

router = resource_router("/projects", "projects")


@router.post("", **operation("Create a project", "createProject", 409, status_code=201))
async def create_project(
    body: ProjectCreate,
    conn: WriteSession,
    idempotency: IdempotencyKey,
) -> Project:
    """Create a project owned by the caller's mind. Slugs are unique per creator."""
    row = await service.create_project(conn, body)
    return await idempotency.created(Project.model_validate(row), f"/v1/projects/{row['id']}")


@router.put(
    "/by-slug/{slug}",
    **operation("Create or update a project by slug", "upsertProjectBySlug", 409, creates=Project),
)
async def upsert_project_by_slug(
    slug: Annotated[str, Path(min_length=1, max_length=200, pattern=SLUG_PATTERN)],
    body: ProjectUpsert,
    conn: WriteSession,
    response: Response,
) -> Project:
    """Idempotent: what a script calls on every run. Creates the caller's project
    with this slug (201) or updates it in place, keeping its id (200)."""
    row, created = await service.upsert_project(conn, slug, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    response.headers["Location"] = f"/v1/projects/{row['id']}"
    project = Project.model_validate(row)
    response.headers["ETag"] = etag_of(project)
    return project


ProjectList = Annotated[
    ListRequest, Depends(ListQuery(status=ProjectStatus, project_type=ProjectType, slug=str))
]


@router.get("", **operation("List projects", "listProjects", openapi_extra=PUBLIC_READ))
async def list_projects(conn: ReadSession, query: ProjectList) -> Page[Project]:
    """The projects the caller may see: their own, and those they are the persona of."""
    return model_page(Project, await service.list_projects(conn, **query))


@router.get(
    "/{project_id}",
    **operation(
        "Get a project", "getProject", 404, openapi_extra=PUBLIC_READ, response_model=Project
    ),
)
async def get_project(project_id: ProjectId, conn: ReadSession) -> Response:
    """One project: whole for its creator (and persona), its public
    projection for anyone else row level security lets read it; 404
    otherwise. With its ETag (send it back as `If-None-Match` for a 304, as
    `If-Match` on a PATCH or DELETE)."""
    row = await service.require_project(conn, project_id)
    return Response(service.project_bytes(row), media_type="application/json")


@router.patch(
    "/{project_id}",
    **operation("Update a project", "updateProject", 404, 409, 412, response_model=Project),
)
async def update_project(
    project_id: ProjectId, body: ProjectUpdate, write: ConditionalWriteSession
) -> Response:
    """Partial update: only the fields sent change. Answers the project and
    its new ETag; with `If-Match`, only if the project is still that version
    (412 otherwise, nothing changed)."""
    row = await service.update_project(write.conn, project_id, body, if_match=write.if_match)
    return await write.answer(service.project_bytes(row))


@router.delete(
    "/{project_id}",
    # 409: its Idempotency-Key is still in use by a request being processed.
    **operation("Delete a project", "deleteProject", 404, 409, 412, status_code=204),
)
async def delete_project(project_id: ProjectId, write: ConditionalWriteSession) -> None:
    """Delete the project and its market research; its contents are kept,
    detached. With `If-Match`, only if the project is still that version."""
    await service.delete_project(write.conn, project_id, if_match=write.if_match)
    await write.no_content()
