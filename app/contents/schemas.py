from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from app.http.schemas import (
    JsonObject,
    LongText,
    Name,
    PartialUpdate,
    RowModel,
    ShortText,
    Slug,
    body_config,
    no_nul,
)


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


def _as_stored(value: Decimal) -> Decimal:
    """Round as the numeric(3,2) column does (half away from zero)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


FIDELITY_DESCRIPTION = "0 to 1, stored with two decimal places: 0.875 is stored as 0.88."

# One type both ways. Exact in the database (numeric(3,2)) and in Python
# (Decimal), a JSON number on the wire: a numeric(3,2) has at most two
# decimals, which a float's shortest form writes back exactly ("0.88", not
# "0.88000000000000000444"). `app.http.schemas.dumps` writes the rows the
# same way. The schema says number (not pydantic's number-or-string) with
# its range, so generated clients get a number.
Fidelity = Annotated[
    Decimal,
    Field(ge=0, le=1),
    AfterValidator(_as_stored),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(
        {"type": "number", "minimum": 0, "maximum": 1, "description": FIDELITY_DESCRIPTION}
    ),
]
SequenceOrder = Annotated[int, Field(ge=0, le=32767)]
Keyword = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(no_nul)]
Keywords = Annotated[list[Keyword], Field(max_length=100)]
TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(no_nul),
]

# The status workflow: which status each status may move to. A move outside
# it is a 409; publishing stamps `published_at`.
STATUS_MOVES: dict[str, frozenset[str]] = {
    "draft": frozenset({"reviewed", "archived"}),
    "reviewed": frozenset({"draft", "published", "archived"}),
    "published": frozenset({"archived"}),
    "archived": frozenset({"draft"}),
}


class MindRole(StrEnum):
    creator = "creator"
    author = "author"
    co_author = "co_author"
    host = "host"
    guest = "guest"
    interviewer = "interviewer"
    interviewee = "interviewee"
    participant = "participant"
    moderator = "moderator"
    contributor = "contributor"
    other = "other"


class ContentCreate(BaseModel):
    model_config = body_config(
        {
            "project_id": "3f6a1c2e-0000-4000-8000-000000000001",
            "slug": "1-1-claude-code-nao-e-magia",
            "title": "1.1 Claude Code não é magia",
            "content_type": "course_lesson",
            "content": "# Claude Code não é magia\n…",
            "ai_generated": True,
        }
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
    keywords: Keywords | None = None
    framework_id: uuid.UUID | None = None
    generation_execution_id: uuid.UUID | None = None


class ContentUpdate(PartialUpdate):
    not_nullable = frozenset({"slug", "title", "content_type", "status", "metadata"})

    model_config = body_config({"title": "1.1 Novo título"})

    slug: Slug | None = None
    title: Name | None = None
    content: LongText | None = None
    content_type: ContentType | None = None
    parent_content_id: uuid.UUID | None = Field(
        default=None, description="A new parent in the same project; null makes it a root."
    )
    sequence_order: SequenceOrder | None = None
    status: ContentStatus | None = Field(
        default=None,
        description="draft → reviewed → published → archived (reviewed → draft and "
        "archived → draft too); any other move is 409. Publishing sets published_at.",
    )
    fidelity_score: Fidelity | None = None
    metadata: JsonObject | None = Field(
        default=None,
        description="Merged into the stored metadata on the server as a JSON Merge Patch "
        "(RFC 7386): objects merge, null deletes a key.",
    )
    file_path: ShortText | None = None
    published_url: ShortText | None = None
    keywords: Keywords | None = None
    framework_id: uuid.UUID | None = None
    generation_execution_id: uuid.UUID | None = None


class ContentMind(RowModel):
    content_id: uuid.UUID
    mind_id: uuid.UUID
    role: MindRole | None
    created_at: datetime


class ContentMindPut(BaseModel):
    model_config = body_config({"role": "author"})

    role: MindRole


class ContentTagsPut(BaseModel):
    """The content's complete set of tags; unknown tags are created."""

    model_config = body_config({"tags": ["python", "automation"]})

    tags: Annotated[list[TagName], Field(max_length=100)]


class ContentTags(BaseModel):
    content_id: uuid.UUID
    tags: list[str]


class Content(RowModel):
    id: uuid.UUID
    project_id: uuid.UUID | None
    parent_content_id: uuid.UUID | None
    slug: str
    title: str
    content_type: ContentType
    content: str | None
    ai_generated: bool
    sequence_order: int | None
    fidelity_score: Fidelity | None
    metadata: dict[str, Any]
    status: ContentStatus | None
    published_at: datetime | None
    published_url: str | None
    file_path: str | None
    keywords: list[str] | None
    framework_id: uuid.UUID | None
    generation_execution_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
