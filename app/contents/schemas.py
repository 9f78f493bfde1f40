from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import JsonObject, LongText, Name, ShortText, Slug


class ContentType(StrEnum):
    # collected
    raw_source = "raw_source"
    interview = "interview"
    podcast_transcript = "podcast_transcript"
    video_transcript = "video_transcript"
    article = "article"
    book_excerpt = "book_excerpt"
    essay = "essay"
    speech = "speech"
    social_media_post = "social_media_post"
    email = "email"
    conversation = "conversation"
    academic_paper = "academic_paper"
    # generated
    course_outline = "course_outline"
    course_module = "course_module"
    course_lesson = "course_lesson"
    book_outline = "book_outline"
    book_part = "book_part"
    book_chapter = "book_chapter"
    blog_series = "blog_series"
    blog_post = "blog_post"
    video_script = "video_script"
    video_chapter = "video_chapter"
    social_post_linkedin = "social_post_linkedin"
    social_post_twitter = "social_post_twitter"
    social_thread = "social_thread"
    newsletter_edition = "newsletter_edition"
    other = "other"


class ContentStatus(StrEnum):
    draft = "draft"
    reviewed = "reviewed"
    published = "published"
    archived = "archived"


Fidelity = Annotated[Decimal, Field(ge=0, le=1, max_digits=3, decimal_places=2)]
SequenceOrder = Annotated[int, Field(ge=0, le=32767)]


class ContentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "project_id": "3f6a1c2e-0000-4000-8000-000000000001",
                    "slug": "1-1-claude-code-nao-e-magia",
                    "title": "1.1 Claude Code não é magia",
                    "content_type": "course_lesson",
                    "content": "# Claude Code não é magia\n…",
                    "ai_generated": True,
                }
            ]
        },
    )

    project_id: uuid.UUID
    slug: Slug
    title: Name
    content_type: ContentType
    content: LongText | None = None
    ai_generated: bool = False
    parent_content_id: uuid.UUID | None = None
    sequence_order: SequenceOrder | None = None
    fidelity_score: Fidelity | None = None
    metadata: JsonObject = Field(default_factory=dict)
    file_path: ShortText | None = None


class ContentUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"title": "1.1 Novo título"}]}
    )

    slug: Slug | None = None
    title: Name | None = None
    content: LongText | None = None
    sequence_order: SequenceOrder | None = None
    fidelity_score: Fidelity | None = None
    metadata: JsonObject | None = None
    file_path: ShortText | None = None


class Content(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID | None
    parent_content_id: uuid.UUID | None
    slug: str
    title: str
    content_type: str
    content: str | None
    ai_generated: bool
    sequence_order: int | None
    fidelity_score: Decimal | None
    metadata: dict[str, Any]
    status: str | None
    published_at: datetime | None
    file_path: str | None
    created_at: datetime
    updated_at: datetime
