"""The resources, typed, in both flavours.

Each method names one operation of `_ops` (where the request is built) and
hands it to the client's runner: `Client.call` returns the value,
`AsyncClient.call` a coroutine. Python's typing cannot say "the same class,
awaited", so the two flavours are declared side by side; their bodies are
one line each and build nothing themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from creatoros_client import _ops
from creatoros_client import models as m
from creatoros_client._core import Call
from creatoros_client._ops import Body, Id, Tree

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Run(Protocol):
    def __call__(self, call: Call[T], /) -> T: ...


class ARun(Protocol):
    def __call__(self, call: Call[T], /) -> Awaitable[T]: ...


class _Rows(Generic[M]):
    """Get, update and delete by id."""

    ops: _ops.Crud[M]

    def __init__(self, run: Run) -> None:
        self._run = run

    def get(self, row_id: Id) -> M:
        return self._run(self.ops.get(row_id))

    def update(self, row_id: Id, data: Body, *, if_match: str | None = None) -> M:
        """Partial update. `if_match`: an ETag (`.etag` of a value read or
        written): only if the row is still that version, else
        `PreconditionFailed` (412) and nothing changes. The answer's `.etag`
        is the new one."""
        return self._run(self.ops.update(row_id, data, if_match))

    def delete(self, row_id: Id, *, if_match: str | None = None) -> None:
        """Delete; with `if_match`, only if the row is still that version."""
        self._run(self.ops.delete(row_id, if_match))


class _Crud(_Rows[M]):
    """…and create and list at the collection."""

    def create(self, data: Body, *, idempotency_key: str | None = None) -> M:
        return self._run(self.ops.create(data, idempotency_key))

    def list(
        self, *, limit: int | None = None, cursor: str | None = None, **filters: Any
    ) -> m.Page[M]:
        return self._run(self.ops.list(limit, cursor, filters))

    def iterate(self, **filters: Any) -> Iterator[M]:
        """Every row, page after page."""
        cursor: str | None = None
        while True:
            page = self.list(limit=200, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class _AsyncRows(Generic[M]):
    ops: _ops.Crud[M]

    def __init__(self, run: ARun) -> None:
        self._run = run

    async def get(self, row_id: Id) -> M:
        return await self._run(self.ops.get(row_id))

    async def update(self, row_id: Id, data: Body, *, if_match: str | None = None) -> M:
        return await self._run(self.ops.update(row_id, data, if_match))

    async def delete(self, row_id: Id, *, if_match: str | None = None) -> None:
        await self._run(self.ops.delete(row_id, if_match))


class _AsyncCrud(_AsyncRows[M]):
    async def create(self, data: Body, *, idempotency_key: str | None = None) -> M:
        return await self._run(self.ops.create(data, idempotency_key))

    async def list(
        self, *, limit: int | None = None, cursor: str | None = None, **filters: Any
    ) -> m.Page[M]:
        return await self._run(self.ops.list(limit, cursor, filters))


class Projects(_Crud[m.Project]):
    ops = _ops.PROJECTS

    def upsert_by_slug(self, slug: str, data: Body) -> m.Project:
        """Create the caller's project `slug` or bring it to this state (same id)."""
        return self._run(_ops.upsert_project(slug, data))


class AsyncProjects(_AsyncCrud[m.Project]):
    ops = _ops.PROJECTS

    async def upsert_by_slug(self, slug: str, data: Body) -> m.Project:
        return await self._run(_ops.upsert_project(slug, data))


class Contents(_Crud[m.Content]):
    ops = _ops.CONTENTS

    def restore(self, content_id: Id) -> m.Content:
        return self._run(_ops.restore_content(content_id))


class AsyncContents(_AsyncCrud[m.Content]):
    ops = _ops.CONTENTS

    async def restore(self, content_id: Id) -> m.Content:
        return await self._run(_ops.restore_content(content_id))


class Frameworks(_Crud[m.Framework]):
    ops = _ops.FRAMEWORKS


class AsyncFrameworks(_AsyncCrud[m.Framework]):
    ops = _ops.FRAMEWORKS


class Audiences(_Crud[m.Audience]):
    ops = _ops.AUDIENCES


class AsyncAudiences(_AsyncCrud[m.Audience]):
    ops = _ops.AUDIENCES


class MarketResearch(_Rows[m.MarketResearch]):
    """Reports live under a project: created and listed there."""

    ops = _ops.RESEARCH

    def create(
        self, data: Body, *, idempotency_key: str | None = None, project_id: Id
    ) -> m.MarketResearch:
        return self._run(_ops.create_research(project_id, data, idempotency_key))

    def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        project_id: Id,
        research_type: str | None = None,
    ) -> m.Page[m.MarketResearch]:
        return self._run(_ops.list_research(project_id, limit, cursor, research_type))


class AsyncMarketResearch(_AsyncRows[m.MarketResearch]):
    ops = _ops.RESEARCH

    async def create(
        self, data: Body, *, idempotency_key: str | None = None, project_id: Id
    ) -> m.MarketResearch:
        return await self._run(_ops.create_research(project_id, data, idempotency_key))

    async def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        project_id: Id,
        research_type: str | None = None,
    ) -> m.Page[m.MarketResearch]:
        return await self._run(_ops.list_research(project_id, limit, cursor, research_type))


class _Resource:
    def __init__(self, run: Run) -> None:
        self._run = run


class _AsyncResource:
    def __init__(self, run: ARun) -> None:
        self._run = run


class Trees(_Resource):
    def get(
        self,
        project_id: Id,
        *,
        include_body: bool = False,
        max_depth: int | None = None,
        etag: str | None = None,
    ) -> Tree:
        """The project's whole tree; with `etag`, `.tree` is None if unchanged."""
        return self._run(_ops.get_tree(project_id, include_body, max_depth, etag))

    def get_subtree(
        self, content_id: Id, *, include_body: bool = False, max_depth: int | None = None
    ) -> Tree:
        return self._run(_ops.get_subtree(content_id, include_body, max_depth))

    def put(
        self,
        project_id: Id,
        nodes: Sequence[m.TreeNodeIn | dict[str, Any]],
        *,
        prune: bool = False,
        if_match: str | None = None,
    ) -> Tree:
        """Create or update the whole tree in one transaction (nodes matched
        by slug). `if_match`: a tree ETag (`.etag` of a read or a put): only
        if the tree is still that version, else `PreconditionFailed`."""
        return self._run(_ops.put_tree(project_id, nodes, prune, if_match))

    def move(
        self, content_id: Id, *, parent_id: Id | None = None, position: int | None = None
    ) -> None:
        self._run(_ops.move_content(content_id, parent_id, position))


class AsyncTrees(_AsyncResource):
    async def get(
        self,
        project_id: Id,
        *,
        include_body: bool = False,
        max_depth: int | None = None,
        etag: str | None = None,
    ) -> Tree:
        return await self._run(_ops.get_tree(project_id, include_body, max_depth, etag))

    async def get_subtree(
        self, content_id: Id, *, include_body: bool = False, max_depth: int | None = None
    ) -> Tree:
        return await self._run(_ops.get_subtree(content_id, include_body, max_depth))

    async def put(
        self,
        project_id: Id,
        nodes: Sequence[m.TreeNodeIn | dict[str, Any]],
        *,
        prune: bool = False,
        if_match: str | None = None,
    ) -> Tree:
        return await self._run(_ops.put_tree(project_id, nodes, prune, if_match))

    async def move(
        self, content_id: Id, *, parent_id: Id | None = None, position: int | None = None
    ) -> None:
        await self._run(_ops.move_content(content_id, parent_id, position))


class Search(_Resource):
    def __call__(
        self, q: str, *, limit: int | None = None, cursor: str | None = None, **filters: Any
    ) -> m.Page[m.SearchHit]:
        """Full-text search (filters: project_id, content_type, status)."""
        return self._run(_ops.search(q, limit, cursor, filters))


class AsyncSearch(_AsyncResource):
    async def __call__(
        self, q: str, *, limit: int | None = None, cursor: str | None = None, **filters: Any
    ) -> m.Page[m.SearchHit]:
        return await self._run(_ops.search(q, limit, cursor, filters))


class Tags(_Resource):
    def get(self, content_id: Id) -> m.ContentTags:
        return self._run(_ops.content_tags(content_id))

    def set(self, content_id: Id, tags: Sequence[str]) -> m.ContentTags:
        """Exactly these tags (unknown ones are created)."""
        return self._run(_ops.put_content_tags(content_id, tags))


class AsyncTags(_AsyncResource):
    async def get(self, content_id: Id) -> m.ContentTags:
        return await self._run(_ops.content_tags(content_id))

    async def set(self, content_id: Id, tags: Sequence[str]) -> m.ContentTags:
        return await self._run(_ops.put_content_tags(content_id, tags))


class Minds(_Resource):
    def me(self) -> m.Me:
        """Who the token says you are, and your mind."""
        return self._run(_ops.me())

    def persona_grants(
        self, limit: int | None = None, cursor: str | None = None
    ) -> m.Page[m.PersonaGrant]:
        """The persona grants you gave and those you hold."""
        return self._run(_ops.persona_grants(limit, cursor))

    def grant_persona(self, mind_id: Id) -> m.PersonaGrant:
        """Let that mind's projects name yours as their persona (idempotent)."""
        return self._run(_ops.grant_persona(mind_id))

    def revoke_persona(self, mind_id: Id) -> None:
        """Take the grant back: its projects stay, and you stop reading them."""
        self._run(_ops.revoke_persona(mind_id))

    def of_content(self, content_id: Id) -> list[m.ContentMind]:
        return self._run(_ops.content_minds(content_id))

    def attribute(self, content_id: Id, mind_id: Id, role: str) -> m.ContentMind:
        return self._run(_ops.put_content_mind(content_id, mind_id, role))

    def detach(self, content_id: Id, mind_id: Id) -> None:
        self._run(_ops.delete_content_mind(content_id, mind_id))


class AsyncMinds(_AsyncResource):
    async def me(self) -> m.Me:
        return await self._run(_ops.me())

    async def persona_grants(
        self, limit: int | None = None, cursor: str | None = None
    ) -> m.Page[m.PersonaGrant]:
        return await self._run(_ops.persona_grants(limit, cursor))

    async def grant_persona(self, mind_id: Id) -> m.PersonaGrant:
        return await self._run(_ops.grant_persona(mind_id))

    async def revoke_persona(self, mind_id: Id) -> None:
        await self._run(_ops.revoke_persona(mind_id))

    async def of_content(self, content_id: Id) -> list[m.ContentMind]:
        return await self._run(_ops.content_minds(content_id))

    async def attribute(self, content_id: Id, mind_id: Id, role: str) -> m.ContentMind:
        return await self._run(_ops.put_content_mind(content_id, mind_id, role))

    async def detach(self, content_id: Id, mind_id: Id) -> None:
        await self._run(_ops.delete_content_mind(content_id, mind_id))
