from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from app.http.schemas import JsonObject, Name, PartialUpdate, RowModel, ShortText, Slug, body_config


class TechnicalLevel(StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"
    expert = "expert"


class AudienceCreate(BaseModel):
    """A new audience. Its owner is the caller's mind, set by the database."""

    model_config = body_config(
        {
            "slug": "devs-brasileiros",
            "name": "Devs brasileiros",
            "technical_level": "intermediate",
            "demographics": {"country": "BR", "age_range": "25-40"},
            "psychographics": {"goals": ["ship faster with AI"]},
            "learning_preferences": {"formats": ["video", "hands-on"]},
        }
    )

    slug: Slug
    name: Name
    description: ShortText | None = None
    technical_level: TechnicalLevel | None = None
    demographics: JsonObject | None = None
    psychographics: JsonObject | None = None
    learning_preferences: JsonObject | None = None


class AudienceUpdate(PartialUpdate, fields_of=AudienceCreate):
    """Partial update: only the fields sent change; null clears an optional one."""

    model_config = body_config({"technical_level": "advanced"})
    not_nullable = frozenset({"slug", "name"})


class Audience(RowModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    technical_level: TechnicalLevel | None
    demographics: dict[str, Any] | None
    psychographics: dict[str, Any] | None
    learning_preferences: dict[str, Any] | None
    owner_mind_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
