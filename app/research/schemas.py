from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.http.schemas import JsonObject, LongText, Name, PartialUpdate, RowModel, body_config


class ResearchType(StrEnum):
    competitive_analysis = "competitive_analysis"
    keyword_research = "keyword_research"
    market_analysis = "market_analysis"
    content_gaps = "content_gaps"
    differentiation = "differentiation"
    sources = "sources"
    other = "other"


# The column is an int4 with CHECK (>= 0): refuse what it would, as a 422 with its field.
CompetitorsCount = Annotated[int, Field(ge=0, le=2_147_483_647)]


class MarketResearchCreate(BaseModel):
    """A new report. Its project comes from the path, not the body."""

    model_config = body_config(
        {
            "research_type": "competitive_analysis",
            "title": "Cursos de Claude Code em português",
            "report_data": {
                "competitors": [{"name": "Curso X", "price_brl": 497}],
                "summary": "Nenhum cobre agentes em produção.",
            },
            "body": "# Concorrentes\n…",
            "competitors_count": 1,
        }
    )

    research_type: ResearchType
    report_data: JsonObject = Field(description="The structured report.")
    title: Name | None = None
    body: LongText | None = Field(default=None, description="The report as Markdown.")
    competitors_count: CompetitorsCount | None = None


class MarketResearchUpdate(PartialUpdate, fields_of=MarketResearchCreate):
    """Partial update: only the fields sent change; null clears an optional one."""

    model_config = body_config({"competitors_count": 12})
    not_nullable = frozenset({"research_type", "report_data"})


class MarketResearch(RowModel):
    id: uuid.UUID
    project_id: uuid.UUID
    research_type: ResearchType
    title: str | None
    report_data: dict[str, Any]
    body: str | None
    competitors_count: int | None
    created_at: datetime
    updated_at: datetime
