from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.auth import PUBLIC_READ
from app.contents.schemas import ContentStatus, ContentType
from app.db.sessions import ReadSession
from app.http.caching import CachedRoute
from app.http.pagination import Cursor, Limit, Page
from app.http.problems import problem_responses
from app.http.routes import operation
from app.search import service
from app.search.schemas import SearchHit, SearchQuery

router = APIRouter(
    route_class=CachedRoute,
    prefix="/search",
    tags=["search"],
    responses=problem_responses(400, 401, 403, 422, 503),
)


def highlight_marks(request: Request) -> tuple[str, str]:
    """The snippets' marks, as configured (SEARCH_HIGHLIGHT_START/_STOP)."""
    settings = request.app.state.settings
    return settings.search_highlight_start, settings.search_highlight_stop


@router.get("", **operation("Search contents", "searchContents", openapi_extra=PUBLIC_READ))
async def search_contents(
    conn: ReadSession,
    marks: Annotated[tuple[str, str], Depends(highlight_marks)],
    q: SearchQuery,
    limit: Limit = 20,
    cursor: Cursor = None,
    project_id: uuid.UUID | None = None,
    content_type: ContentType | None = None,
    status: ContentStatus | None = None,
) -> Page[SearchHit]:
    """Full-text search over the contents the caller may read (their projects',
    and published ones; without a token, published ones only), best match
    first. Portuguese-aware: accents and word endings do not matter, and
    English terms are found as written."""
    rows, next_cursor = await service.search(
        conn,
        q,
        filters={
            "project_id": project_id,
            "content_type": content_type.value if content_type else None,
            "status": status.value if status else None,
        },
        limit=limit,
        cursor=cursor,
        marks=marks,
    )
    return Page[SearchHit](
        items=[SearchHit.model_validate(dict(r)) for r in rows], next_cursor=next_cursor
    )
