from __future__ import annotations

from typing import Annotated, Any, TypedDict

from fastapi import Depends, Query, Request, Response
from starlette.background import BackgroundTask

from app.auth import PUBLIC_READ
from app.contents.hierarchy import MAX_DEPTH
from app.db.sessions import ReadSession, WriteSession
from app.http.caching import IfMatch
from app.http.compression import ETaggedResponse
from app.http.docs import REVISION_HEADER
from app.http.ids import ContentId, ProjectId
from app.http.problems import problem_responses
from app.http.routes import operation, resource_router
from app.idempotency import IdempotencyKey
from app.revisions import service as revisions
from app.trees import service
from app.trees.schemas import ContentTree, MoveRequest, TreeUpsert

router = resource_router("", "trees")

IncludeBody = Annotated[
    bool, Query(description="Include each node's `content` (the body); off by default.")
]
MaxDepth = Annotated[
    int, Query(ge=1, le=MAX_DEPTH, description=f"Levels to return, 1 to {MAX_DEPTH}.")
]
AtRevision = Annotated[
    int | None,
    Query(
        ge=1,
        le=2**31 - 1,
        description="The tree as it was after this revision (the project's creator only;"
        " immutable: cached for a year).",
    ),
]

# A tree at a revision never changes (its nodes; the project is read as it is
# now): the one answer that sets its own Cache-Control (app.http.caching keeps it).
IMMUTABLE = "private, max-age=31536000, immutable"


def tree_response(answer: service.TreeAnswer, *, cache: str | None = None) -> Response:
    """The tree's bytes with their ETag (caching and the 304: app.http.caching,
    unless `cache` says otherwise); `after_commit` runs once the answer is out."""
    headers = {} if cache is None else {"Cache-Control": cache}
    response = ETaggedResponse(answer.body, digest=answer.digest, headers=headers)
    if answer.after_commit is not None:
        response.background = BackgroundTask(answer.after_commit)
    return response


TREE_RESPONSES: dict[int | str, dict[str, Any]] = problem_responses(404)


def tree_read_operation(summary: str, operation_id: str) -> dict[str, Any]:
    """A tree GET's documentation: readable by anyone (published trees), the
    tree's model for bytes the route writes itself, a 304 for a held ETag."""
    return operation(
        summary,
        operation_id,
        openapi_extra=PUBLIC_READ,
        response_model=ContentTree,
        responses=TREE_RESPONSES,
    )


class TreeShape(TypedDict):
    """How much of a tree to read, as the service's tree reads take it."""

    include_body: bool
    max_depth: int


async def tree_read(
    include_body: IncludeBody = False, max_depth: MaxDepth = MAX_DEPTH
) -> TreeShape:
    """A tree GET's shape, one dependency: the two tree reads declare these
    parameters once."""
    return {"include_body": include_body, "max_depth": max_depth}


TreeReadQuery = Annotated[TreeShape, Depends(tree_read)]


@router.get(
    "/projects/{project_id}/tree",
    **tree_read_operation("Read a project's content tree", "getProjectTree"),
)
async def get_project_tree(
    project_id: ProjectId,
    conn: ReadSession,
    read: TreeReadQuery,
    revision: AtRevision = None,
) -> Response:
    """The whole course (or book…) in one request: nested nodes, siblings in
    `sequence_order`, deleted ones left out. Send the `ETag` back as
    `If-None-Match` to get a 304 when nothing changed."""
    if revision is not None:
        answer = await revisions.read_tree_at(conn, project_id, revision, **read)
        return tree_response(answer, cache=IMMUTABLE)
    return tree_response(await service.read_project_tree(conn, project_id, **read))


@router.get(
    "/contents/{content_id}/tree", **tree_read_operation("Read a subtree", "getContentTree")
)
async def get_content_tree(
    content_id: ContentId, conn: ReadSession, read: TreeReadQuery
) -> Response:
    """A content and its descendants (a module and its lessons, say), with its project."""
    return tree_response(await service.read_subtree(conn, content_id, **read))


@router.put(
    "/projects/{project_id}/tree",
    **operation(
        "Create or update a whole content tree",
        "putProjectTree",
        404,
        409,
        412,
        response_model=ContentTree,
    ),
)
async def put_project_tree(
    project_id: ProjectId,
    body: TreeUpsert,
    conn: WriteSession,
    request: Request,
    idempotency: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response:
    """Write a whole course in one transaction. Nodes are matched by slug within
    the project, so a re-run updates in place and keeps ids; `prune: true`
    soft-deletes the project's contents that are not in the payload. The
    payload is checked first (content types, hierarchy, unique slugs, depth ≤ 16,
    ≤ 5,000 nodes): any refusal changes nothing. Answers the resulting tree
    and its ETag. With `If-Match`, only if the tree is still that version (the
    ETag of a GET of it, with or without bodies, or of the last PUT): 412
    otherwise, and nothing is written. `Content-Revision` names the project
    revision the write made (absent when it changed nothing, and on an
    idempotent replay)."""
    answer = await service.put_tree(
        conn, project_id, body, wake_indexer=request.app.state.search_indexer.wake,
        if_match=if_match,
    )  # fmt: skip
    await idempotency.record_answer(answer.body, 200, answer.digest)
    response = tree_response(answer)
    if answer.revision is not None:
        response.headers[REVISION_HEADER] = str(answer.revision)
    return response


@router.post(
    "/contents/{content_id}/move",
    **operation("Move a content", "moveContent", 404, 409, status_code=204),
)
async def move_content(
    content_id: ContentId, body: MoveRequest, conn: WriteSession, idempotency: IdempotencyKey
) -> None:
    """Under a new parent of the same project (or to the root), at a position;
    the siblings it leaves and joins are renumbered 1…n. A move under itself or
    one of its descendants is refused (422)."""
    await service.move_content(conn, content_id, body.parent_id, body.position)
    await idempotency.no_content()
