"""Project revisions as the API answers them (issue 23)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field


class Revision(BaseModel):
    """One transaction that changed a project's nodes: who, when, what."""

    number: int = Field(description="1, 2, … per project, in the order they were made.")
    created_at: datetime
    mind_id: uuid.UUID | None = Field(description="The writer's mind.")
    user_id: str | None = Field(description="The writer's JWT `sub`.")
    request_id: str | None = Field(description="The writing request's X-Request-ID.")
    note: str | None = Field(description="Why, when the writer said (a restore says which).")
    added: int
    changed: int
    moved: int
    removed: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        """One line: `3 changed`, `133 added`, `2 moved, 1 removed`…"""
        counts = [
            f"{n} {what}"
            for n, what in (
                (self.added, "added"),
                (self.changed, "changed"),
                (self.moved, "moved"),
                (self.removed, "removed"),
            )
            if n
        ]
        return ", ".join(counts) or "no node changed"


# The node fields a diff compares (the tree's, its body aside), in the tree's order.
DIFF_FIELDS: tuple[str, ...] = (
    "slug", "title", "content_type", "status", "sequence_order", "fidelity_score",
    "file_path", "metadata", "parent_content_id",
)  # fmt: skip
# A change of these alone is a move.
PLACE_FIELDS = frozenset({"parent_content_id", "sequence_order"})


class NodeChange(BaseModel):
    """How one node differs between the two revisions."""

    id: uuid.UUID
    slug: str
    title: str
    change: Literal["added", "removed", "moved", "changed"]
    fields: list[str] = Field(description="The fields that differ (`content`: the body).")
    before: dict[str, Any] = Field(description="Those fields' values at `from` (body aside).")
    after: dict[str, Any] = Field(description="Those fields' values at `to` (body aside).")
    body_diff: str | None = Field(
        description="A unified diff of the body from `from` to `to`, when it differs."
    )


class RevisionDiff(BaseModel):
    project_id: uuid.UUID
    from_revision: int = Field(serialization_alias="from")
    to_revision: int = Field(serialization_alias="to")
    nodes: list[NodeChange] = Field(description="Changed nodes, by slug.")
