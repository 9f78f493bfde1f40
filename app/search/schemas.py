from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, Field

from app.contents.schemas import ContentStatus, ContentType
from app.http.schemas import RowModel, no_nul

MAX_QUERY_CHARS = 500

SearchQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="What to look for, as people type it: words (all must match), "
        '"quoted phrases", `or`, and `-word` to exclude. Accents and Portuguese word '
        'endings do not matter ("configuracao" finds "configurações").',
        examples=["configuracao de hooks"],
    ),
    AfterValidator(no_nul),
]


class SearchHit(RowModel):
    id: uuid.UUID
    project_id: uuid.UUID | None
    title: str
    content_type: ContentType
    status: ContentStatus | None
    file_path: str | None
    rank: float = Field(
        description="Relevance (higher first): how well the title matches the query."
    )
    snippet: str = Field(
        description="An excerpt of the beginning of the body, as HTML: its text "
        "escaped, the matches marked `<mark>…</mark>` (the marks are configurable) "
        "and no other markup."
    )
