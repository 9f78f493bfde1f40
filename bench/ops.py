"""The measured operations, each twice: through the service over HTTP, and as
the raw asyncpg floor.

The floor is what the database work of a request costs with nothing on top:
one transaction from a pool of the app's size, logged in as `authenticator`,
whose first statement is exactly the service's tenant switch (same role,
same claims JSON — those of the verified token — same statement timeout),
then exactly the statements the service runs (imported from `app.trees.sql`
where the service shares them; written out for the single SELECT of a
content get or list page). No HTTP, no pydantic, no SQLAlchemy, no JSON
decoding of jsonb columns, no nesting of tree rows: whatever the service
takes beyond the floor is its own overhead.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.auth import SERVICE, Principal
from app.contents import service as contents_service
from app.db.tenancy import SWITCH, begin_switched, switch_args
from app.http.pagination import DEFAULT_LIMIT
from app.projects import service as projects_service
from app.search import sql as search_sql
from app.search.indexer import INDEX_DEFERRED
from app.settings import Settings
from app.trees import shape, sql
from app.trees.schemas import TreeNodeIn
from bench.http import LeanClient, LeanResponse
from bench.seed import INDEX_BATCH

# The app's own statements (app/db/rows.py compiles them once): a project by
# id, a content by id, a first page of a project's contents.
PROJECT_BY_ID = projects_service.ROWS.get_sql
GET_CONTENT = contents_service.ROWS.get_sql
LIST_CONTENTS, _LIST_ORDER = contents_service.ROWS.page_sql(("project_id",), False)
# A first page of every project the caller may read (its own, and the public
# ones of every creator), unfiltered.
LIST_PROJECTS, _PROJECTS_ORDER = projects_service.ROWS.page_sql((), False)
LIST_LIMIT = DEFAULT_LIMIT
# What people type, accents or not (app.search: GET /v1/search).
SEARCH_QUERIES = (
    "automação de tarefas",
    "configuracao do ambiente",
    "pull request",
    "ferramentas de IA",
    "prompt engineering",
    "revisão de código",
    "dados de clientes",
    "agente",
)
SEARCH_LIMIT = 20
# The snippets' marks, as the service's default settings have them.
SEARCH_MARKS = tuple(
    Settings.model_fields[f"search_highlight_{end}"].default for end in ("start", "stop")
)
# The sanity check needs a full page at any scale: a word of every course.
SEARCH_CHECK_QUERY = "claude"
# What PUT …/tree reads back: the tree without bodies (the client just sent them).
PUT_READS_BODY = False

Target = Any
ServiceCall = Callable[[LeanClient, Target], Awaitable[LeanResponse]]


async def read_tree(client: LeanClient, project_id: uuid.UUID) -> None:
    """One tree read for a req/s comparison (workers, replicas): a failure
    stops the phase rather than counting as a fast answer."""
    response = await client.get(f"/v1/projects/{project_id}/tree")
    if response.status_code != 200:
        raise RuntimeError(f"tree read answered {response.status_code}")


FloorCall = Callable[[asyncpg.Pool, Target], Awaitable[int]]


@dataclass
class Operation:
    """One row of the result table."""

    key: str
    label: str
    service: ServiceCall
    floor: FloorCall | None
    # (mode, concurrency, count) → the targets of one measured phase, in order.
    targets: Callable[[str, int, int], Sequence[Target]]
    # A response and the floor's row count → what to compare, for the sanity check.
    service_rows: Callable[[LeanResponse], int]
    expected_rows: int
    method: str = "GET"
    path: str = ""
    notes: list[str] = field(default_factory=list)


def encode_body(course_payload: dict[str, Any]) -> bytes:
    """The PUT body, encoded once, exactly as httpx's `json=` would encode it
    (UTF-8, compact), so the client does not pay for it on every request."""
    document = {"nodes": [course_payload], "prune": False}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def count_tree(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + count_tree(node.get("children") or []) for node in nodes)


def _ok(response: LeanResponse) -> LeanResponse:
    if response.status_code != 200:
        raise RuntimeError(f"the service answered {response.status_code}: {response.text[:500]}")
    return response


class Floor:
    """The raw asyncpg side: a pool and the caller's principal."""

    def __init__(self, principal: Principal) -> None:
        # A request id of the same length as the service's generated ones.
        self.switch_args = switch_args(principal, uuid.UUID(int=0).hex)
        self.begin_read = begin_switched(self.switch_args, read_only=True)
        self._service_switch = switch_args(SERVICE, None)
        self._indexing: asyncio.Task[None] | None = None
        self._index_again = False

    @asynccontextmanager
    async def _read(self, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
        """A read as the service's read path runs it (`tenancy.tenant_door`):
        BEGIN READ ONLY with the switch in one round trip, the reads, COMMIT."""
        async with pool.acquire() as conn:
            await conn.execute(self.begin_read)
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def tree(self, pool: asyncpg.Pool, project_id: uuid.UUID, include_body: bool) -> int:
        async with self._read(pool) as conn:
            await conn.fetchrow(PROJECT_BY_ID, project_id)
            rows = await conn.fetch(sql.READ_PROJECT_TREE, project_id, include_body)
            return len(rows)

    async def get(self, pool: asyncpg.Pool, content_id: uuid.UUID) -> int:
        async with self._read(pool) as conn:
            row = await conn.fetchrow(GET_CONTENT, content_id)
            return 0 if row is None else 1

    async def list(self, pool: asyncpg.Pool, project_id: uuid.UUID) -> int:
        async with self._read(pool) as conn:
            values = {"project_id": project_id, "limit_plus_one": LIST_LIMIT + 1}
            rows = await conn.fetch(LIST_CONTENTS, *(values[name] for name in _LIST_ORDER))
            return min(len(rows), LIST_LIMIT)

    async def projects(self, pool: asyncpg.Pool, _: Any) -> int:
        async with self._read(pool) as conn:
            values = {"limit_plus_one": LIST_LIMIT + 1}
            rows = await conn.fetch(LIST_PROJECTS, *(values[name] for name in _PROJECTS_ORDER))
            return min(len(rows), LIST_LIMIT)

    async def search(self, pool: asyncpg.Pool, q: str) -> int:
        """As app.search.service.search: the query's indexable part, then the search."""
        async with self._read(pool) as conn:
            await conn.fetchrow(search_sql.CHECK_QUERY, q)
            args = (q, None, None, None, None, None, SEARCH_LIMIT + 1, *SEARCH_MARKS)
            rows = await conn.fetch(search_sql.SEARCH, *args)
            return min(len(rows), SEARCH_LIMIT)

    async def upsert(
        self, pool: asyncpg.Pool, project_id: uuid.UUID, nodes: Sequence[TreeNodeIn]
    ) -> int:
        """As app.trees.service.upsert_tree, then the read back of the PUT."""
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(SWITCH, *self.switch_args)
            if await conn.fetchrow(sql.LOCK_PROJECT, project_id) is None:
                raise RuntimeError(f"floor: project {project_id} is not writable")
            existing = {
                row["slug"]: row["id"]
                for row in await conn.fetch(sql.EXISTING_SLUGS, project_id, shape.all_slugs(nodes))
            }
            plan = shape.plan_upsert(nodes, existing)
            await conn.execute(sql.UPSERT_NODES, *plan.args(project_id))
            await conn.fetchrow(PROJECT_BY_ID, project_id)
            rows = await conn.fetch(sql.READ_PROJECT_TREE, project_id, PUT_READS_BODY)
        self._wake_indexer(pool)
        return len(rows)

    def _wake_indexer(self, pool: asyncpg.Pool) -> None:
        """As the service after a tree write: its rows' search indexing runs
        in the background, one task at a time (app.search.indexer), so the
        next writes meet the same concurrent work on either side."""
        if self._indexing is not None and not self._indexing.done():
            self._index_again = True
            return
        self._indexing = asyncio.create_task(self._index(pool))

    async def _index(self, pool: asyncpg.Pool) -> None:
        again = True
        while again:
            self._index_again = False
            indexed = INDEX_BATCH
            while indexed == INDEX_BATCH:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.fetchrow(SWITCH, *self._service_switch)
                    indexed = await conn.fetchval(INDEX_DEFERRED, INDEX_BATCH)
            again = self._index_again


@dataclass
class Targets:
    """What the operations act on: the bench creator's seeded courses and
    contents, and empty projects for fresh-course upserts."""

    projects: list[uuid.UUID]
    contents: list[uuid.UUID]
    empty_projects: list[uuid.UUID]
    seed: int = 42
    _fresh: Any = None
    _used: dict[tuple[str, int], list[uuid.UUID]] = field(default_factory=dict)

    def cycle(self, items: Sequence[Any], count: int, salt: str) -> list[Any]:
        """`count` items, shuffled the same way for the service and the floor."""
        order = list(items)
        random.Random(f"{self.seed}:{salt}").shuffle(order)
        return list(itertools.islice(itertools.cycle(order), count))

    def fresh(self, mode: str, concurrency: int, count: int) -> list[uuid.UUID]:
        if self._fresh is None:
            self._fresh = iter(self.empty_projects)
        taken = list(itertools.islice(self._fresh, count))
        if len(taken) < count:
            raise RuntimeError("not enough empty projects for the fresh-course upserts")
        self._used[(mode, concurrency)] = taken
        return taken

    def filled(self, mode: str, concurrency: int, count: int) -> list[uuid.UUID]:
        """The projects the fresh upsert of the same phase filled: upserting
        the same course again is the idempotent re-run."""
        used = self._used.get((mode, concurrency), [])
        if len(used) < count:
            raise RuntimeError("the re-run needs the fresh-course upsert measured first")
        return used[:count]


def build_operations(
    targets: Targets,
    floor: Floor,
    course_payload: dict[str, Any],
    nodes_per_course: int,
    *,
    trees: bool,
) -> list[Operation]:
    """Every operation of the bench (the tree ones only when the service has them)."""
    body = encode_body(course_payload)
    models = [TreeNodeIn.model_validate(course_payload)]  # built once: no pydantic in the floor
    headers = {"content-type": "application/json"}

    def tree_read(include_body: bool) -> Operation:
        flag = "true" if include_body else "false"

        async def service(client: LeanClient, project_id: uuid.UUID) -> LeanResponse:
            return _ok(
                await client.get(f"/v1/projects/{project_id}/tree", params={"include_body": flag})
            )

        async def floor_call(pool: asyncpg.Pool, project_id: uuid.UUID) -> int:
            return await floor.tree(pool, project_id, include_body)

        return Operation(
            key=f"tree_read_{'body' if include_body else 'nobody'}",
            label=f"GET tree, {'with' if include_body else 'no'} bodies",
            service=service,
            floor=floor_call,
            targets=lambda mode, c, n: targets.cycle(targets.projects, n, f"tree{c}"),
            service_rows=lambda r: count_tree(r.json()["nodes"]),
            expected_rows=nodes_per_course,
            path=f"/v1/projects/{{id}}/tree?include_body={flag}",
        )

    async def put_tree(client: LeanClient, project_id: uuid.UUID) -> LeanResponse:
        return _ok(
            await client.put(f"/v1/projects/{project_id}/tree", content=body, headers=headers)
        )

    async def floor_upsert(pool: asyncpg.Pool, project_id: uuid.UUID) -> int:
        return await floor.upsert(pool, project_id, models)

    async def get_content(client: LeanClient, content_id: uuid.UUID) -> LeanResponse:
        return _ok(await client.get(f"/v1/contents/{content_id}"))

    async def list_contents(client: LeanClient, project_id: uuid.UUID) -> LeanResponse:
        return _ok(
            await client.get(
                "/v1/contents", params={"project_id": str(project_id), "limit": LIST_LIMIT}
            )
        )

    async def list_projects(client: LeanClient, _: Any) -> LeanResponse:
        return _ok(await client.get("/v1/projects", params={"limit": LIST_LIMIT}))

    async def search(client: LeanClient, q: str) -> LeanResponse:
        return _ok(await client.get("/v1/search", params={"q": q, "limit": SEARCH_LIMIT}))

    def search_targets(mode: str, concurrency: int, count: int) -> list[str]:
        if mode.startswith("check"):
            return [SEARCH_CHECK_QUERY] * count
        return targets.cycle(SEARCH_QUERIES, count, f"search{concurrency}")

    async def healthz(client: LeanClient, _: Any) -> LeanResponse:
        return _ok(await client.get("/healthz"))

    async def metrics(client: LeanClient, _: Any) -> LeanResponse:
        return _ok(await client.get("/metrics"))

    operations: list[Operation] = [
        Operation(
            key="healthz",
            label="GET /healthz (HTTP only, no database)",
            service=healthz,
            floor=None,
            targets=lambda mode, c, n: [None] * n,
            service_rows=lambda r: 0,
            expected_rows=0,
            path="/healthz",
        ),
        Operation(
            key="metrics",
            label="GET /metrics (a Prometheus scrape)",
            service=metrics,
            floor=None,
            targets=lambda mode, c, n: [None] * n,
            service_rows=lambda r: 0,
            expected_rows=0,
            path="/metrics",
        ),
        Operation(
            key="content_get",
            label="GET content by id",
            service=get_content,
            floor=floor.get,
            targets=lambda mode, c, n: targets.cycle(targets.contents, n, f"get{c}"),
            service_rows=lambda r: 1 if r.json().get("id") else 0,
            expected_rows=1,
            path="/v1/contents/{id}",
        ),
        Operation(
            key="content_list",
            label=f"GET contents list page (limit {LIST_LIMIT})",
            service=list_contents,
            floor=floor.list,
            targets=lambda mode, c, n: targets.cycle(targets.projects, n, f"list{c}"),
            service_rows=lambda r: len(r.json()["items"]),
            expected_rows=min(LIST_LIMIT, nodes_per_course),
            path=f"/v1/contents?project_id={{id}}&limit={LIST_LIMIT}",
        ),
        Operation(
            key="project_list",
            label=f"GET projects list page, own and public (limit {LIST_LIMIT})",
            service=list_projects,
            floor=floor.projects,
            targets=lambda mode, c, n: [None] * n,
            service_rows=lambda r: len(r.json()["items"]),
            expected_rows=LIST_LIMIT,
            path=f"/v1/projects?limit={LIST_LIMIT}",
        ),
        Operation(
            key="search",
            label=f"GET search, {len(SEARCH_QUERIES)} Portuguese queries (limit {SEARCH_LIMIT})",
            service=search,
            floor=floor.search,
            targets=search_targets,
            service_rows=lambda r: len(r.json()["items"]),
            expected_rows=SEARCH_LIMIT,
            path=f"/v1/search?q={{q}}&limit={SEARCH_LIMIT}",
        ),
    ]
    if trees:
        operations += [
            tree_read(include_body=False),
            tree_read(include_body=True),
            Operation(
                key="tree_upsert_new",
                label=f"PUT tree, new {nodes_per_course}-node course",
                service=put_tree,
                floor=floor_upsert,
                targets=targets.fresh,
                service_rows=lambda r: count_tree(r.json()["nodes"]),
                expected_rows=nodes_per_course,
                method="PUT",
                path="/v1/projects/{id}/tree",
            ),
            Operation(
                key="tree_upsert_rerun",
                label=f"PUT tree, same {nodes_per_course} nodes again (no-op)",
                service=put_tree,
                floor=floor_upsert,
                targets=targets.filled,
                service_rows=lambda r: count_tree(r.json()["nodes"]),
                expected_rows=nodes_per_course,
                method="PUT",
                path="/v1/projects/{id}/tree",
            ),
        ]
    return operations
