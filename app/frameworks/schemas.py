from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field

from app.http.schemas import JsonObject, Name, PartialUpdate, RowModel, ShortText, Slug, body_config


class FrameworkType(StrEnum):
    pedagogical = "pedagogical"
    content_structure = "content_structure"
    storytelling = "storytelling"
    marketing = "marketing"
    other = "other"


class FrameworkCreate(BaseModel):
    """A new framework. Its owner is the caller's mind, set by the database:
    a tenant can neither choose another owner nor create a global framework."""

    model_config = body_config(
        {
            "slug": "aida",
            "name": "AIDA",
            "framework_type": "marketing",
            "description": "Attention, Interest, Desire, Action.",
            "framework_schema": {
                "type": "object",
                "required": ["attention", "interest", "desire", "action"],
            },
        }
    )

    slug: Slug
    name: Name
    framework_type: FrameworkType
    description: ShortText | None = None
    framework_schema: JsonObject | None = Field(
        default=None, description="A JSON Schema for what a content built on it holds."
    )
    is_active: bool = True


class FrameworkUpdate(PartialUpdate, fields_of=FrameworkCreate):
    """Partial update: only the fields sent change."""

    model_config = body_config({"is_active": False})
    not_nullable = frozenset({"slug", "name", "framework_type", "is_active"})


class Framework(RowModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    framework_type: FrameworkType | None
    framework_schema: dict[str, Any] | None
    is_active: bool | None
    owner_mind_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @computed_field(  # type: ignore[prop-decorator]
        description="A shared framework, managed by service_role: readable, not writable."
    )
    @property
    def is_global(self) -> bool:
        return self.owner_mind_id is None
