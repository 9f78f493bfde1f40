from __future__ import annotations

from typing import Annotated, Any

import xxhash
from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic_core import to_json
from starlette.background import BackgroundTask

from app.auth import PUBLIC_READ
from app.db.rows import Row
from app.db.sessions import ReadSession, WriteSession
from app.http.bodies import JsonBodyRoute
from app.http.compression import ETaggedResponse
from app.http.ids import ContentId, ProjectId
from app.http.problems import problem_responses
from app.http.schemas import dumps
from app.projects.schemas import Project
from app.trees import service
from app.trees.schemas import MAX_DEPTH, ContentTree, MoveRequest, TreeUpsert

router = APIRouter(
    route_class=JsonBodyRoute,
    tags=["trees"],
    responses=problem_responses(400, 401, 403, 413, 422, 503),
)

IncludeBody = Annotated[
    bool, Query(description="Include each node's `content` (the body); off by default.")
]
MaxDepth = Annotated[
    int, Query(ge=1, le=MAX_DEPTH, description=f"Levels to return, 1 to {MAX_DEPTH}.")
]
IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier answer.")]


def tree_response(
    project: Row, nodes: list[dict[str, Any]], *, if_none_match: str | None
) -> Response:
    """Serialized once, straight to bytes (no second validation pass of the
    nodes); the ETag is a 128-bit hash of those bytes (xxHash's XXH3: 670 KB
    in ~0.02 ms, where BLAKE2b took 0.8 ms), so an unchanged tree answers 304."""
    body = b"".join(
        (b'{"project":', to_json(Project.model_validate(project)), b',"nodes":', dumps(nodes), b"}")
    )
    headers = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}
    return ETaggedResponse(
        body,
        digest=xxhash.xxh3_128_hexdigest(body),
        headers=headers,
        if_none_match=if_none_match,
    )


TREE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(404),
    304: {"description": "Not Modified: the tree still matches If-None-Match."},
}


@router.get(
    "/projects/{project_id}/tree",
    summary="Read a project's content tree",
    operation_id="getProjectTree",
    openapi_extra=PUBLIC_READ,
    response_model=ContentTree,
    responses=TREE_RESPONSES,
)
async def get_project_tree(
    project_id: ProjectId,
    conn: ReadSession,
    include_body: IncludeBody = False,
    max_depth: MaxDepth = MAX_DEPTH,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The whole course (or book…) in one request: nested nodes, siblings in
    `sequence_order`, deleted ones left out. Send the `ETag` back as
    `If-None-Match` to get a 304 when nothing changed."""
    project, nodes = await service.read_project_tree(
        conn, project_id, include_body=include_body, max_depth=max_depth
    )
    return tree_response(project, nodes, if_none_match=if_none_match)


@router.get(
    "/contents/{content_id}/tree",
    summary="Read a subtree",
    operation_id="getContentTree",
    openapi_extra=PUBLIC_READ,
    response_model=ContentTree,
    responses=TREE_RESPONSES,
)
async def get_content_tree(
    content_id: ContentId,
    conn: ReadSession,
    include_body: IncludeBody = False,
    max_depth: MaxDepth = MAX_DEPTH,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A content and its descendants (a module and its lessons, say), with its project."""
    project, nodes = await service.read_subtree(
        conn, content_id, include_body=include_body, max_depth=max_depth
    )
    return tree_response(project, nodes, if_none_match=if_none_match)


@router.put(
    "/projects/{project_id}/tree",
    summary="Create or update a whole content tree",
    operation_id="putProjectTree",
    response_model=ContentTree,
    responses=problem_responses(404, 409),
)
async def put_project_tree(
    project_id: ProjectId,
    body: TreeUpsert,
    conn: WriteSession,
    request: Request,
) -> Response:
    """Write a whole course in one transaction. Nodes are matched by slug within
    the project, so a re-run updates in place and keeps ids; `prune: true`
    soft-deletes the project's contents that are not in the payload. The
    payload is checked first (content types, hierarchy, unique slugs, depth ≤ 16,
    ≤ 5,000 nodes): any refusal changes nothing. Answers the resulting tree."""
    await service.upsert_tree(conn, project_id, body.nodes, prune=body.prune)
    project, nodes = await service.read_project_tree(
        conn, project_id, include_body=False, max_depth=MAX_DEPTH
    )
    response = tree_response(project, nodes, if_none_match=None)
    # The written rows' search indexing was deferred (app.search.indexer):
    # wake the indexer once the answer is out, i.e. after the commit.
    response.background = BackgroundTask(request.app.state.search_indexer.wake)
    return response


@router.post(
    "/contents/{content_id}/move",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Move a content",
    operation_id="moveContent",
    responses=problem_responses(404),
)
async def move_content(content_id: ContentId, body: MoveRequest, conn: WriteSession) -> None:
    """Under a new parent of the same project (or to the root), at a position;
    the siblings it leaves and joins are renumbered 1…n. A move under itself or
    one of its descendants is refused (422)."""
    await service.move_content(conn, content_id, body.parent_id, body.position)
