from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.contents.schemas import ContentStatus, ContentType, Fidelity, Keywords, SequenceOrder
from app.http.schemas import JsonObject, LongText, Name, ShortText, Slug, body_config
from app.projects.schemas import Project

MAX_NODES = 5000


class TreeNode(BaseModel):
    """A content in a tree, with its children in `sequence_order`."""

    id: uuid.UUID
    slug: str
    title: str
    content_type: ContentType
    status: ContentStatus | None
    sequence_order: int | None
    fidelity_score: Fidelity | None
    file_path: str | None
    metadata: dict[str, Any]
    content: str | None = Field(default=None, description="Only with include_body=true.")
    children: list[TreeNode]


# The node's own fields, in order: what the tree read selects and `nest`
# copies (`content` only with bodies, `children` built by nesting).
NODE_FIELDS: tuple[str, ...] = tuple(
    name for name in TreeNode.model_fields if name not in ("content", "children")
)


class ContentTree(BaseModel):
    project: Project
    nodes: list[TreeNode]


class TreeNodeIn(BaseModel):
    """A node as a script sends it; matched to existing contents by slug."""

    model_config = body_config()

    slug: Slug
    title: Name
    content_type: ContentType
    content: LongText | None = None
    sequence_order: SequenceOrder | None = Field(
        default=None, description="Default: the node's position among its siblings, from 1."
    )
    fidelity_score: Fidelity | None = None
    file_path: ShortText | None = None
    metadata: JsonObject = Field(
        default_factory=dict, description="Merged into an existing node's metadata."
    )
    ai_generated: bool = True
    keywords: Keywords | None = None
    children: Annotated[list[TreeNodeIn], Field(max_length=MAX_NODES)] = Field(default_factory=list)


class TreeUpsert(BaseModel):
    model_config = body_config(
        {
            "prune": False,
            "nodes": [
                {
                    "slug": "claude-code",
                    "title": "Claude Code na prática",
                    "content_type": "course_outline",
                    "children": [
                        {
                            "slug": "modulo-1",
                            "title": "Módulo 1",
                            "content_type": "course_module",
                            "children": [
                                {
                                    "slug": "1-1-nao-e-magia",
                                    "title": "1.1 Claude Code não é magia",
                                    "content_type": "course_lesson",
                                    "content": "# Claude Code não é magia\n",
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    )

    nodes: Annotated[list[TreeNodeIn], Field(max_length=MAX_NODES)]
    prune: bool = Field(
        default=False,
        description="Soft-delete the project's contents that are not in this payload.",
    )


class MoveRequest(BaseModel):
    model_config = body_config({"parent_id": None, "position": 1})

    parent_id: uuid.UUID | None = Field(
        default=None, description="The new parent, in the same project; null for a root."
    )
    position: int | None = Field(
        default=None, ge=1, le=32767,
        description="1-based position among the new siblings; default: last.",
    )  # fmt: skip
