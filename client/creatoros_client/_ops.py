"""Every API operation, once: its method, path, parameters and answer type.

The sync and async resources (resources.py) only say which of these they
run; building the request lives here, so the two flavours cannot drift.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from creatoros_client import models as m
from creatoros_client._core import (
    IDEMPOTENCY_HEADER,
    IF_MATCH_HEADER,
    Call,
    body_of,
    new_idempotency_key,
    nothing,
    returning,
)

Body = BaseModel | Mapping[str, Any]
Id = uuid.UUID | str
M = TypeVar("M", bound=BaseModel)


def conditional(if_match: str | None) -> dict[str, str]:
    """The headers of a write made only if the resource is still the version
    `if_match` names (an ETag it answered). With a fresh `Idempotency-Key`:
    a retry of a write that went in (after a timeout) replays its answer
    instead of failing its now-stale precondition, and a PATCH becomes safe
    to retry."""
    if if_match is None:
        return {}
    return {IF_MATCH_HEADER: if_match, IDEMPOTENCY_HEADER: new_idempotency_key()}


def created(path: str, data: Body, model: type[M], idempotency_key: str | None) -> Call[M]:
    """A creating POST. It always carries an `Idempotency-Key` (a fresh one
    unless given), so it may be retried and replayed without a second write."""
    key = idempotency_key or new_idempotency_key()
    return Call(
        "POST", path, returning(model), json=body_of(data), headers={IDEMPOTENCY_HEADER: key}
    )


@dataclass(frozen=True)
class Crud(Generic[M]):
    """The operations every owned resource has (projects, contents,
    frameworks, audiences; market research is created under its project)."""

    path: str
    model: type[M]

    def create(self, data: Body, idempotency_key: str | None = None) -> Call[M]:
        return created(self.path, data, self.model, idempotency_key)

    def get(self, row_id: Id) -> Call[M]:
        return Call("GET", f"{self.path}/{row_id}", returning(self.model))

    def list(
        self, limit: int | None, cursor: str | None, filters: Mapping[str, Any]
    ) -> Call[m.Page[M]]:
        params = {"limit": limit, "cursor": cursor, **filters}
        return Call("GET", self.path, returning(m.Page[self.model]), params=params)  # type: ignore[name-defined]

    def update(self, row_id: Id, data: Body, if_match: str | None = None) -> Call[M]:
        return Call(
            "PATCH",
            f"{self.path}/{row_id}",
            returning(self.model),
            json=body_of(data),
            headers=conditional(if_match),
        )

    def delete(self, row_id: Id, if_match: str | None = None) -> Call[None]:
        return Call("DELETE", f"{self.path}/{row_id}", nothing, headers=conditional(if_match))


PROJECTS = Crud("/v1/projects", m.Project)
CONTENTS = Crud("/v1/contents", m.Content)
FRAMEWORKS = Crud("/v1/frameworks", m.Framework)
AUDIENCES = Crud("/v1/audiences", m.Audience)
RESEARCH = Crud("/v1/market-research", m.MarketResearch)


def me() -> Call[m.Me]:
    return Call("GET", "/v1/me", returning(m.Me))


def persona_grants(limit: int | None, cursor: str | None) -> Call[m.Page[m.PersonaGrant]]:
    return Call(
        "GET",
        "/v1/me/persona-grants",
        returning(m.Page[m.PersonaGrant]),
        params={"limit": limit, "cursor": cursor},
    )


def grant_persona(mind_id: Id) -> Call[m.PersonaGrant]:
    return Call("PUT", f"/v1/me/persona-grants/{mind_id}", returning(m.PersonaGrant))


def revoke_persona(mind_id: Id) -> Call[None]:
    return Call("DELETE", f"/v1/me/persona-grants/{mind_id}", nothing)


def upsert_project(slug: str, data: Body) -> Call[m.Project]:
    return Call("PUT", f"/v1/projects/by-slug/{slug}", returning(m.Project), json=body_of(data))


def create_research(
    project_id: Id, data: Body, idempotency_key: str | None
) -> Call[m.MarketResearch]:
    return created(
        f"/v1/projects/{project_id}/market-research", data, m.MarketResearch, idempotency_key
    )


def list_research(
    project_id: Id, limit: int | None, cursor: str | None, research_type: str | None
) -> Call[m.Page[m.MarketResearch]]:
    return Call(
        "GET",
        f"/v1/projects/{project_id}/market-research",
        returning(m.Page[m.MarketResearch]),
        params={"limit": limit, "cursor": cursor, "research_type": research_type},
    )


def search(
    q: str, limit: int | None, cursor: str | None, filters: dict[str, Any]
) -> Call[m.Page[m.SearchHit]]:
    return Call(
        "GET",
        "/v1/search",
        returning(m.Page[m.SearchHit]),
        params={"q": q, "limit": limit, "cursor": cursor, **filters},
    )


def restore_content(content_id: Id) -> Call[m.Content]:
    return Call("POST", f"/v1/contents/{content_id}/restore", returning(m.Content), idempotent=True)


def content_minds(content_id: Id) -> Call[list[m.ContentMind]]:
    return Call("GET", f"/v1/contents/{content_id}/minds", returning(list[m.ContentMind]))


def put_content_mind(content_id: Id, mind_id: Id, role: str) -> Call[m.ContentMind]:
    return Call(
        "PUT",
        f"/v1/contents/{content_id}/minds/{mind_id}",
        returning(m.ContentMind),
        json={"role": role},
    )


def delete_content_mind(content_id: Id, mind_id: Id) -> Call[None]:
    return Call("DELETE", f"/v1/contents/{content_id}/minds/{mind_id}", nothing)


def content_tags(content_id: Id) -> Call[m.ContentTags]:
    return Call("GET", f"/v1/contents/{content_id}/tags", returning(m.ContentTags))


def put_content_tags(content_id: Id, tags: Sequence[str]) -> Call[m.ContentTags]:
    return Call(
        "PUT",
        f"/v1/contents/{content_id}/tags",
        returning(m.ContentTags),
        json={"tags": list(tags)},
    )


@dataclass(frozen=True)
class Tree:
    """A tree as read, with its ETag; `tree` is None when it still matched
    the `etag` sent (304 Not Modified). `revision`: the project revision a
    tree PUT made (its `Content-Revision`; None when it changed nothing, on
    an idempotent replay, or from a server that does not send it)."""

    tree: m.ContentTree | None
    etag: str | None
    revision: int | None = None


def _tree(response: httpx.Response) -> Tree:
    if response.status_code == 304:
        return Tree(None, response.headers.get("etag"))
    revision = response.headers.get("content-revision", "")
    return Tree(
        m.ContentTree.model_validate_json(response.content),
        response.headers.get("etag"),
        int(revision) if revision.isdecimal() else None,
    )


def get_tree(
    project_id: Id, include_body: bool, max_depth: int | None, etag: str | None
) -> Call[Tree]:
    return Call(
        "GET",
        f"/v1/projects/{project_id}/tree",
        _tree,
        params={"include_body": include_body, "max_depth": max_depth},
        headers={"If-None-Match": etag} if etag else {},
    )


def get_subtree(content_id: Id, include_body: bool, max_depth: int | None) -> Call[Tree]:
    return Call(
        "GET",
        f"/v1/contents/{content_id}/tree",
        _tree,
        params={"include_body": include_body, "max_depth": max_depth},
    )


def put_tree(
    project_id: Id,
    nodes: Sequence[m.TreeNodeIn | Mapping[str, Any]],
    prune: bool,
    if_match: str | None = None,
) -> Call[Tree]:
    body = {"nodes": [body_of(n) for n in nodes], "prune": prune}
    return Call(
        "PUT", f"/v1/projects/{project_id}/tree", _tree, json=body, headers=conditional(if_match)
    )


def tree_etag(project_id: Id) -> Call[str | None]:
    """The tree's current ETag, without its body (HEAD)."""
    return Call("HEAD", f"/v1/projects/{project_id}/tree", lambda r: r.headers.get("etag"))


def move_content(content_id: Id, parent_id: Id | None, position: int | None) -> Call[None]:
    body = {"parent_id": str(parent_id) if parent_id else None, "position": position}
    # A move is a PUT in spirit (the same move twice: the same place).
    return Call("POST", f"/v1/contents/{content_id}/move", nothing, json=body, idempotent=True)


# ---- project revisions -------------------------------------------------------------------


def revisions(project_id: Id, limit: int | None, cursor: str | None) -> Call[m.Page[m.Revision]]:
    return Call(
        "GET",
        f"/v1/projects/{project_id}/revisions",
        returning(m.Page[m.Revision]),
        params={"limit": limit, "cursor": cursor},
    )


def diff(project_id: Id, start: int, end: int) -> Call[m.RevisionDiff]:
    return Call(
        "GET",
        f"/v1/projects/{project_id}/diff",
        returning(m.RevisionDiff),
        params={"from": start, "to": end},
    )


def restore_revision(project_id: Id, number: int, idempotency_key: str | None) -> Call[m.Revision]:
    """A restore is a creating POST (it makes a revision): it carries a key."""
    key = idempotency_key or new_idempotency_key()
    return Call(
        "POST",
        f"/v1/projects/{project_id}/revisions/{number}/restore",
        returning(m.Revision),
        headers={IDEMPOTENCY_HEADER: key},
    )


def tree_at(project_id: Id, revision: int, include_body: bool) -> Call[Tree]:
    return Call(
        "GET",
        f"/v1/projects/{project_id}/tree",
        _tree,
        params={"include_body": include_body, "revision": revision},
    )
