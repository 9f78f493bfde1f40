from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from app.http.schemas import JsonObject, Name, PartialUpdate, RowModel, ShortText, Slug, body_config


class ProjectType(StrEnum):
    course = "course"
    book = "book"
    blog_series = "blog_series"
    video_series = "video_series"
    newsletter = "newsletter"
    social_media_campaign = "social_media_campaign"
    other = "other"


class ProjectStatus(StrEnum):
    planning = "planning"
    in_progress = "in_progress"
    completed = "completed"
    archived = "archived"


class ProjectCreate(BaseModel):
    """A new project. Its creator is the caller's mind, set by the database."""

    model_config = body_config(
        {"slug": "claude-code", "name": "Claude Code na prática", "project_type": "course"}
    )

    slug: Slug
    name: Name
    project_type: ProjectType
    description: ShortText | None = None
    status: ProjectStatus = ProjectStatus.planning
    persona_mind_id: uuid.UUID | None = Field(
        default=None, description="The mind whose voice the project is written in."
    )
    target_audience_id: uuid.UUID | None = Field(
        default=None, description="The audience the project is written for (one of yours)."
    )
    project_metadata: JsonObject = Field(default_factory=dict)


class ProjectUpsert(BaseModel):
    """The whole project as a script knows it; `PUT …/by-slug/{slug}` creates it
    or brings it to this state. `project_metadata` is merged, not replaced."""

    model_config = body_config({"name": "Claude Code na prática", "project_type": "course"})

    name: Name
    project_type: ProjectType
    description: ShortText | None = None
    status: ProjectStatus | None = None
    persona_mind_id: uuid.UUID | None = None
    target_audience_id: uuid.UUID | None = Field(
        default=None, description="The audience the project is written for (one of yours)."
    )
    project_metadata: JsonObject = Field(default_factory=dict)


class ProjectUpdate(PartialUpdate, fields_of=ProjectCreate):
    """Partial update: only the fields sent change."""

    not_nullable = frozenset({"slug", "name", "project_type", "status", "project_metadata"})

    model_config = body_config({"status": "in_progress"})

    target_audience_id: uuid.UUID | None = Field(
        default=None, description="The audience the project is written for (one of yours)."
    )
    project_metadata: JsonObject | None = Field(
        default=None,
        description="Merged on the server as a JSON Merge Patch (RFC 7386): null deletes a key.",
    )


class Project(RowModel):
    """A project as the caller may read it. Its creator (and its consenting
    persona) reads the whole row; anyone else reading a public course page
    (anon, another creator) reads its public projection: `project_metadata`
    with only the keys listed in `project_metadata.public_keys`, and no
    `target_audience_id` or `default_frameworks` (null)."""

    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    project_type: ProjectType | None
    status: ProjectStatus | None
    creator_mind_id: uuid.UUID | None
    persona_mind_id: uuid.UUID | None
    target_audience_id: uuid.UUID | None
    default_frameworks: list[str] | None = Field(
        description="Slugs of the frameworks the project's contents use by default."
    )
    project_metadata: dict[str, Any] = Field(
        description="Free-form; a key `public_keys` (a list of key names) says which keys"
        " callers other than the creator and the persona may read."
    )
    created_at: datetime
    updated_at: datetime
