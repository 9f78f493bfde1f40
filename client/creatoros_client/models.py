"""Typed resources: the API's schemas as pydantic models.

Kept in step with the service's `/openapi.json` by a test (field names and
which are required; tests/client/test_models.py). Answers are read leniently
(unknown fields ignored, so a newer service does not break an older script);
requests are strict (a misspelt field fails here, not on the server). A
PATCH (`…Update`) sends only the fields set, so it changes exactly those.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")
    _etag: str | None = PrivateAttr(default=None)

    @property
    def etag(self) -> str | None:
        """The answer's ETag, as the API sent it: pass it back as `if_match=`
        to write only if this is still the current version."""
        return self._etag

    def tagged(self, etag: str | None) -> Self:
        """This value, read from an answer whose ETag was `etag`."""
        self._etag = etag
        return self


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # A PATCH body sends only the fields set; any other body is sent whole
    # (its defaults are the API's own).
    partial: ClassVar[bool] = False

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=self.partial)


ContentStatus = Literal["draft", "reviewed", "published", "archived"]

ContentType = Literal[
    "raw_source",
    "interview",
    "podcast_transcript",
    "video_transcript",
    "article",
    "book_excerpt",
    "essay",
    "speech",
    "social_media_post",
    "email",
    "conversation",
    "academic_paper",
    "course_outline",
    "course_module",
    "course_lesson",
    "book_outline",
    "book_part",
    "book_chapter",
    "blog_series",
    "blog_post",
    "video_script",
    "video_chapter",
    "social_post_linkedin",
    "social_post_twitter",
    "social_thread",
    "newsletter_edition",
    "other",
]

FrameworkType = Literal["pedagogical", "content_structure", "storytelling", "marketing", "other"]

MindRole = Literal[
    "creator",
    "author",
    "co_author",
    "host",
    "guest",
    "interviewer",
    "interviewee",
    "participant",
    "moderator",
    "contributor",
    "other",
]

ProjectStatus = Literal["planning", "in_progress", "completed", "archived"]

ProjectType = Literal[
    "course", "book", "blog_series", "video_series", "newsletter", "social_media_campaign", "other"
]

ResearchType = Literal[
    "competitive_analysis",
    "keyword_research",
    "market_analysis",
    "content_gaps",
    "differentiation",
    "sources",
    "other",
]

TechnicalLevel = Literal["beginner", "intermediate", "advanced", "expert"]


class Audience(_Response):
    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    technical_level: str | None
    demographics: dict[str, Any] | None
    psychographics: dict[str, Any] | None
    learning_preferences: dict[str, Any] | None
    owner_mind_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class AudienceCreate(_Request):
    """A new audience. Its owner is the caller's mind, set by the database."""

    slug: str
    name: str
    description: str | None = None
    technical_level: TechnicalLevel | None = None
    demographics: dict[str, Any] | None = None
    psychographics: dict[str, Any] | None = None
    learning_preferences: dict[str, Any] | None = None


class AudienceUpdate(_Request):
    """Partial update: only the fields sent change; null clears an optional one."""

    partial = True

    slug: str | None = None
    name: str | None = None
    description: str | None = None
    technical_level: TechnicalLevel | None = None
    demographics: dict[str, Any] | None = None
    psychographics: dict[str, Any] | None = None
    learning_preferences: dict[str, Any] | None = None


class Content(_Response):
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
    published_url: str | None
    file_path: str | None
    keywords: list[str] | None
    framework_id: uuid.UUID | None
    generation_execution_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ContentCreate(_Request):
    project_id: uuid.UUID
    slug: str
    title: str
    content_type: ContentType
    content: str | None = None
    ai_generated: bool = False
    parent_content_id: uuid.UUID | None = None
    sequence_order: int | None = None
    fidelity_score: Decimal | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    file_path: str | None = None
    keywords: list[str] | None = None
    framework_id: uuid.UUID | None = None
    generation_execution_id: uuid.UUID | None = None


class ContentMind(_Response):
    content_id: uuid.UUID
    mind_id: uuid.UUID
    role: str | None
    created_at: datetime


class ContentMindPut(_Request):
    role: MindRole


class ContentTags(_Response):
    content_id: uuid.UUID
    tags: list[str]


class ContentTagsPut(_Request):
    """The content's complete set of tags; unknown tags are created."""

    tags: list[str]


class ContentTree(_Response):
    project: Project
    nodes: list[TreeNode]


class ContentUpdate(_Request):
    partial = True

    slug: str | None = None
    title: str | None = None
    content: str | None = None
    content_type: ContentType | None = None
    parent_content_id: uuid.UUID | None = None
    sequence_order: int | None = None
    status: ContentStatus | None = None
    fidelity_score: Decimal | None = None
    metadata: dict[str, Any] | None = None
    file_path: str | None = None
    published_url: str | None = None
    keywords: list[str] | None = None
    framework_id: uuid.UUID | None = None
    generation_execution_id: uuid.UUID | None = None


class Framework(_Response):
    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    framework_type: str | None
    framework_schema: dict[str, Any] | None
    is_active: bool | None
    owner_mind_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    is_global: bool


class FrameworkCreate(_Request):
    """A new framework. Its owner is the caller's mind, set by the database:
    a tenant can neither choose another owner nor create a global framework."""

    slug: str
    name: str
    framework_type: FrameworkType
    description: str | None = None
    framework_schema: dict[str, Any] | None = None
    is_active: bool = True


class FrameworkUpdate(_Request):
    """Partial update: only the fields sent change."""

    partial = True

    slug: str | None = None
    name: str | None = None
    framework_type: FrameworkType | None = None
    description: str | None = None
    framework_schema: dict[str, Any] | None = None
    is_active: bool | None = None


class MarketResearch(_Response):
    id: uuid.UUID
    project_id: uuid.UUID
    research_type: str
    title: str | None
    report_data: dict[str, Any]
    body: str | None
    competitors_count: int | None
    created_at: datetime
    updated_at: datetime


class MarketResearchCreate(_Request):
    """A new report. Its project comes from the path, not the body."""

    research_type: ResearchType
    report_data: dict[str, Any]
    title: str | None = None
    body: str | None = None
    competitors_count: int | None = None


class MarketResearchUpdate(_Request):
    """Partial update: only the fields sent change; null clears an optional one."""

    partial = True

    research_type: ResearchType | None = None
    report_data: dict[str, Any] | None = None
    title: str | None = None
    body: str | None = None
    competitors_count: int | None = None


class Me(_Response):
    user_id: uuid.UUID
    role: str
    mind_id: uuid.UUID
    mind_slug: str
    display_name: str


class PersonaGrant(_Response):
    """The owner of a mind lets another mind (the grantee) name it as the
    persona of the grantee's projects."""

    id: uuid.UUID
    owner_mind_id: uuid.UUID
    grantee_mind_id: uuid.UUID
    created_at: datetime


class MoveRequest(_Request):
    parent_id: uuid.UUID | None = None
    position: int | None = None


class Problem(_Response):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[ValidationIssue] | None = None
    request_id: str | None = None  # X-Request-ID of the answer: quote it in a bug report


class Project(_Response):
    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    project_type: str | None
    status: str | None
    creator_mind_id: uuid.UUID | None
    persona_mind_id: uuid.UUID | None
    target_audience_id: uuid.UUID | None
    default_frameworks: Any | None
    project_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ProjectCreate(_Request):
    """A new project. Its creator is the caller's mind, set by the database."""

    slug: str
    name: str
    project_type: ProjectType
    description: str | None = None
    status: ProjectStatus = "planning"
    persona_mind_id: uuid.UUID | None = None
    target_audience_id: uuid.UUID | None = None
    project_metadata: dict[str, Any] = Field(default_factory=dict)


class ProjectUpdate(_Request):
    """Partial update: only the fields sent change."""

    partial = True

    slug: str | None = None
    name: str | None = None
    project_type: ProjectType | None = None
    description: str | None = None
    status: ProjectStatus | None = None
    persona_mind_id: uuid.UUID | None = None
    target_audience_id: uuid.UUID | None = None
    project_metadata: dict[str, Any] | None = None


class ProjectUpsert(_Request):
    """The whole project as a script knows it; `PUT …/by-slug/{slug}` creates it
    or brings it to this state. `project_metadata` is merged, not replaced."""

    name: str
    project_type: ProjectType
    description: str | None = None
    status: ProjectStatus | None = None
    persona_mind_id: uuid.UUID | None = None
    target_audience_id: uuid.UUID | None = None
    project_metadata: dict[str, Any] = Field(default_factory=dict)


class SearchHit(_Response):
    """A content matching a search, best first (`GET /v1/search`)."""

    id: uuid.UUID
    project_id: uuid.UUID | None
    title: str
    content_type: str
    status: str | None
    file_path: str | None
    rank: float
    snippet: str  # the matches marked <mark>…</mark>; the text is not HTML-escaped


class TreeNode(_Response):
    """A content in a tree, with its children in `sequence_order`."""

    id: uuid.UUID
    slug: str
    title: str
    content_type: str
    status: str | None
    sequence_order: int | None
    fidelity_score: Decimal | None
    file_path: str | None
    metadata: dict[str, Any]
    content: str | None = None
    children: list[TreeNode]


class TreeNodeIn(_Request):
    """A node as a script sends it; matched to existing contents by slug."""

    slug: str
    title: str
    content_type: ContentType
    content: str | None = None
    sequence_order: int | None = None
    fidelity_score: Decimal | None = None
    file_path: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    ai_generated: bool = True
    keywords: list[str] | None = None
    children: list[TreeNodeIn] = Field(default_factory=list)


class TreeUpsert(_Request):
    nodes: list[TreeNodeIn]
    prune: bool = False


class ValidationIssue(_Response):
    loc: list[str | int]
    msg: str
    type: str


T = TypeVar("T")


class Page(_Response, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next."""

    items: list[T]
    next_cursor: str | None
