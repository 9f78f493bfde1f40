"""SQLAlchemy models mirroring SCHEMA.md, so that autogenerate sees no drift.

The schema belongs to production: these models describe it, the migrations
(not `create_all`) build it. CHECK constraints and triggers live in the
migrations only; Alembic does not compare them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NOT_DELETED = text("deleted_at IS NULL")
CURRENT_MIND = text("current_mind_id()")


def page_order(table: str, *within: str, **options: Any) -> Index:
    """The index of a listed table's page order, (created_at, id) as
    `app.db.rows.TableRows.page` keysets it (migration 0016), `within` the
    columns a page is filtered by first: a page walks it and stops once
    full, where without it every list sorted every row the caller could see,
    row level security checked on each (1,000 public projects: 13 ms a page,
    growing with the table)."""
    name = f"idx_{table}_{'_'.join((*within, 'page_order'))}"
    return Index(name, *within, "created_at", "id", **options)


class Base(DeclarativeBase):
    # The constraint names the migrations use, so that names in the models,
    # the migrations and the database agree.
    metadata = MetaData(
        naming_convention={
            "pk": "pk_%(table_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "ix": "idx_%(table_name)s_%(column_0_name)s",
        }
    )


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _owner_mind(ondelete: str) -> Mapped[uuid.UUID | None]:
    """The mind a row belongs to: the database fills it from the caller's
    claims (`current_mind_id()`), so a client never sends it."""
    return mapped_column(ForeignKey("minds.id", ondelete=ondelete), server_default=CURRENT_MIND)


def _link_key(target: str) -> Mapped[Any]:
    """One half of a link table's key: the link goes when its row does, and
    each half has its own index (named by the metadata's convention,
    `idx_<table>_<column>`), to look links up from either side."""
    return mapped_column(ForeignKey(target, ondelete="CASCADE"), primary_key=True, index=True)


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))


def _count() -> Mapped[int]:
    """A revision's count of nodes (added, changed, …), 0 until the trigger sets it."""
    return mapped_column(Integer, nullable=False, server_default=text("0"))


def _updated_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))


class Mind(Base):
    __tablename__ = "minds"

    id: Mapped[uuid.UUID] = _uuid_pk()
    slug: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(Text, nullable=False)
    primary_language: Mapped[str | None] = mapped_column(CHAR(2))
    short_bio: Mapped[str | None] = mapped_column(Text)
    privacy_level: Mapped[str] = mapped_column(Text, nullable=False, server_default="public")
    apex_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class UserProfile(Base):
    __tablename__ = "user_profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    mind_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("minds.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    created_at: Mapped[datetime] = _created_at()


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    tag_type: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class JobExecution(Base):
    __tablename__ = "job_executions"

    id: Mapped[uuid.UUID] = _uuid_pk()
    llm_provider: Mapped[str | None] = mapped_column(Text)
    llm_model: Mapped[str | None] = mapped_column(Text)
    llm_version: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    tokens_prompt: Mapped[int | None] = mapped_column(Integer)
    tokens_completion: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class ContentFramework(Base):
    __tablename__ = "content_frameworks"
    __table_args__ = (
        Index(
            "idx_content_frameworks_active_slug",
            "slug",
            postgresql_where=text("is_active"),
        ),
        # Migration 0010: the foreign key's own index.
        Index("idx_content_frameworks_owner_mind_id", "owner_mind_id"),
        page_order("content_frameworks"),
        # NULL owner means global: two global frameworks may not share a slug.
        UniqueConstraint(
            "owner_mind_id",
            "slug",
            name="uq_content_frameworks_owner_slug",
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    slug: Mapped[str] = mapped_column(Text, nullable=False)
    owner_mind_id: Mapped[uuid.UUID | None] = _owner_mind("RESTRICT")
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    framework_type: Mapped[str | None] = mapped_column(Text)
    framework_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class AudienceProfile(Base):
    __tablename__ = "audience_profiles"
    __table_args__ = (
        UniqueConstraint("owner_mind_id", "slug", name="uq_audience_profiles_owner_slug"),
        # Migration 0010: the foreign key's own index.
        Index("idx_audience_profiles_owner_mind_id", "owner_mind_id"),
        page_order("audience_profiles"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    slug: Mapped[str] = mapped_column(Text, nullable=False)
    owner_mind_id: Mapped[uuid.UUID | None] = _owner_mind("SET NULL")
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    demographics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    psychographics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    technical_level: Mapped[str | None] = mapped_column(Text)
    learning_preferences: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class ContentProject(Base):
    __tablename__ = "content_projects"
    __table_args__ = (
        Index("idx_content_projects_slug", "slug"),
        Index("idx_content_projects_target_audience_id", "target_audience_id"),
        Index("idx_content_projects_persona_mind_id", "persona_mind_id"),
        # Migration 0010: the foreign key's own index.
        Index("idx_content_projects_creator_mind_id", "creator_mind_id"),
        UniqueConstraint("creator_mind_id", "slug", name="uq_content_projects_creator_slug"),
        page_order("content_projects"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    slug: Mapped[str] = mapped_column(Text, nullable=False)
    creator_mind_id: Mapped[uuid.UUID | None] = _owner_mind("SET NULL")
    persona_mind_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("minds.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    project_type: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text, server_default="planning")
    target_audience_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audience_profiles.id"))
    default_frameworks: Mapped[list[str] | None] = mapped_column(JSONB)
    project_metadata: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class Content(Base):
    __tablename__ = "contents"
    __table_args__ = (
        # Within a project only: walked in page order across the whole table,
        # a plan made without knowing a filter's value (a generic plan: asyncpg
        # prepares) walked every visible content to find a small project's
        # or a rare tag's few (tests/test_page_order.py).
        page_order("contents", "project_id", postgresql_where=NOT_DELETED),
        Index("idx_contents_ai_generated", "ai_generated", postgresql_where=NOT_DELETED),
        Index(
            "idx_contents_parent_order",
            "parent_content_id",
            "sequence_order",
            postgresql_where=NOT_DELETED,
        ),
        Index(
            "idx_contents_children",
            "parent_content_id",
            "sequence_order",
            postgresql_where=text("deleted_at IS NULL AND parent_content_id IS NOT NULL"),
        ),
        Index(
            "idx_contents_project_generated",
            "project_id",
            postgresql_where=text("ai_generated AND deleted_at IS NULL"),
        ),
        Index(
            "idx_contents_status_published",
            "status",
            text("published_at DESC"),
            postgresql_where=NOT_DELETED,
        ),
        Index(
            "idx_contents_processing_status",
            text("(metadata ->> 'processing_status')"),
            postgresql_where=text("NOT ai_generated AND deleted_at IS NULL"),
        ),
        Index(
            "idx_contents_generation_execution",
            "generation_execution_id",
            postgresql_where=text("ai_generated"),
        ),
        # The stored search documents (migration 0009: `search_document`,
        # written by a trigger), without a pending list for searches to scan.
        Index(
            "idx_contents_search_stored",
            "search_document",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        Index("idx_contents_search_deferred", "id", postgresql_where=text("search_deferred")),
        Index(
            "idx_contents_search_deferred_project",
            "project_id",
            postgresql_where=text("search_deferred AND project_id IS NOT NULL"),
        ),
        Index("idx_contents_metadata", "metadata", postgresql_using="gin"),
        Index("idx_contents_slug", "slug", postgresql_where=NOT_DELETED),
        Index("idx_contents_framework_id", "framework_id"),
        # Migration 0010: the foreign key's own index (the two above are
        # partial: a parent's cascade must also find its deleted children),
        # and the published contents by project, for
        # creatoros_internal.project_is_public (one probe per project).
        Index("idx_contents_parent_content_id", "parent_content_id"),
        Index(
            "idx_contents_published_project",
            "project_id",
            postgresql_where=text("status = 'published' AND deleted_at IS NULL"),
        ),
        # Migration 0015: the contents a job generated, ai_generated or not:
        # job_executions' read policy probes it by the job's id (the
        # baseline's index above is ai_generated only).
        Index(
            "idx_contents_generation_execution_id",
            "generation_execution_id",
            postgresql_where=text("generation_execution_id IS NOT NULL"),
        ),
        UniqueConstraint("project_id", "slug", name="uq_contents_project_slug"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    ai_generated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    content_type: Mapped[str] = mapped_column(Text, nullable=False)
    parent_content_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contents.id", ondelete="CASCADE")
    )
    sequence_order: Mapped[int | None] = mapped_column(SmallInteger)
    slug: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    content: Mapped[str | None] = mapped_column(Text)
    generation_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("job_executions.id")
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("content_projects.id", ondelete="SET NULL")
    )
    fidelity_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    # `metadata` is reserved on declarative classes; the column keeps its name.
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    status: Mapped[str | None] = mapped_column(Text, server_default="draft")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_url: Mapped[str | None] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    keywords: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # Migration 0008: true while the row's words wait for the search indexer.
    # Both columns are the database's (migration 0009's trigger sets them).
    search_deferred: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    search_document: Mapped[str | None] = mapped_column(TSVECTOR)
    framework_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("content_frameworks.id", ondelete="SET NULL")
    )


class ContentMind(Base):
    __tablename__ = "content_minds"
    __table_args__ = (Index("idx_content_minds_mind_role", "mind_id", "role"),)

    content_id: Mapped[uuid.UUID] = _link_key("contents.id")
    mind_id: Mapped[uuid.UUID] = _link_key("minds.id")
    role: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


class ContentTag(Base):
    __tablename__ = "content_tags"

    content_id: Mapped[uuid.UUID] = _link_key("contents.id")
    tag_id: Mapped[int] = _link_key("tags.id")
    created_at: Mapped[datetime] = _created_at()


class MarketResearch(Base):
    __tablename__ = "market_research"
    __table_args__ = (
        Index("idx_market_research_project_id", "project_id"),
        page_order("market_research"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("content_projects.id", ondelete="CASCADE"), nullable=False
    )
    research_type: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    report_data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    competitors_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class IdempotencyKey(Base):
    """A creating POST's key and the answer it got (migration 0005)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("idx_idempotency_keys_created_at", "created_at"),)

    caller: Mapped[str] = mapped_column(
        Text, primary_key=True, server_default=text("idempotency_caller()")
    )
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(Text, nullable=False)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    response_headers: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = _created_at()


class PersonaGrant(Base):
    """The owner of a mind lets another mind name it as persona (migration 0010)."""

    __tablename__ = "persona_grants"
    __table_args__ = (
        UniqueConstraint(
            "owner_mind_id", "grantee_mind_id", name="uq_persona_grants_owner_grantee"
        ),
        Index("idx_persona_grants_grantee_mind_id", "grantee_mind_id"),
        page_order("persona_grants"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    owner_mind_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("minds.id", ondelete="CASCADE"), nullable=False, server_default=CURRENT_MIND
    )
    grantee_mind_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("minds.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = _created_at()


# ---- project revisions (migration 0012): written by the contents' triggers only ----


class _ProjectHistory:
    """The columns a project's revisions and bodies both start with: the
    project, first part of the key (the history goes with its project), and
    its creator when the row was recorded, which the read policies compare
    with the caller. (`sort_order` keeps the project first in each key; the
    models' column order is otherwise not the tables', which the migration
    builds.)"""

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("content_projects.id", ondelete="CASCADE"), primary_key=True, sort_order=-2
    )
    creator_mind_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class ContentRevision(_ProjectHistory, Base):
    """One per project and transaction that changed its nodes."""

    __tablename__ = "content_revisions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    mind_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    user_id: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    transaction_id: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("txid_current()")
    )
    created_at: Mapped[datetime] = _created_at()
    added: Mapped[int] = _count()
    changed: Mapped[int] = _count()
    moved: Mapped[int] = _count()
    removed: Mapped[int] = _count()


class ContentBody(_ProjectHistory, Base):
    """Each distinct body of a project's history, once (content-addressed)."""

    __tablename__ = "content_bodies"

    sha256: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created_at()


class ContentHistory(Base):
    """A node's state after each revision that changed it."""

    __tablename__ = "content_history"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "revision"],
            ["content_revisions.project_id", "content_revisions.number"],
            ondelete="CASCADE",
            name="fk_content_history_project_id",
        ),
        Index("idx_content_history_project_revision", "project_id", "revision"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    content_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_mind_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    change: Mapped[str | None] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    content_type: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str | None] = mapped_column(Text)
    sequence_order: Mapped[int | None] = mapped_column(SmallInteger)
    fidelity_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    file_path: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, nullable=False)
    parent_content_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    body_sha256: Mapped[bytes | None] = mapped_column(LargeBinary)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False)
