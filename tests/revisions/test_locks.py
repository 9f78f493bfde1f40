"""The revision trigger locks a project's row (dense revision numbers); the
tree PUT locks that row before its contents. A single-node write racing a
tree PUT of the same project must take the two locks in the same order, or
the two transactions deadlock (40P01, a 503 to one of the callers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.contents.schemas import ContentUpdate
from app.contents.service import delete_content, restore_content, update_content
from app.db.rows import fetchrow
from app.db.tenancy import tenant_transaction
from app.http.problems import PreconditionFailed
from app.trees import sql as trees_sql
from app.trees.schemas import TreeNodeIn
from app.trees.service import move_content, upsert_tree
from tests.factories import Creator, new_project, write_tree
from tests.helpers import superuser_dsn

LESSONS = [{"slug": s, "title": s.upper(), "content_type": "course_lesson", "content": f"{s}\n"}
           for s in ("a", "b")]  # fmt: skip
COURSE = [{"slug": "curso", "title": "Curso", "content_type": "course_outline", "children": [
    {"slug": "modulo-1", "title": "Módulo 1", "content_type": "course_module",
     "children": LESSONS}]}]  # fmt: skip


async def waiting_for_a_lock(database: str) -> None:
    """Until a backend of the test database waits for a lock (10 s at most)."""
    conn = await asyncpg.connect(superuser_dsn(database))
    try:
        for _ in range(200):
            if await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the single-node write never waited")
    finally:
        await conn.close()


async def race(
    engine: AsyncEngine, database: str, who: Creator, project: str,
    write: Callable[[AsyncConnection], Awaitable[object]],
) -> None:  # fmt: skip
    """The interleaving that could deadlock: the tree PUT locks the project
    row; then the single-node `write` starts (and waits somewhere); then the
    PUT changes every lesson (the one `write` touches included) and commits."""
    tree = [TreeNodeIn.model_validate(node) for node in COURSE]
    for node in tree[0].children[0].children:
        node.content = f"{node.content}mudado\n"
    locked = asyncio.Event()

    async def tree_put() -> None:
        async with tenant_transaction(engine, who.principal, read_only=False) as conn:
            assert await fetchrow(conn, trees_sql.LOCK_PROJECT, uuid.UUID(project)) is not None
            locked.set()
            await waiting_for_a_lock(database)
            await upsert_tree(conn, uuid.UUID(project), tree, prune=False)

    async def single_node() -> None:
        await locked.wait()
        async with tenant_transaction(engine, who.principal, read_only=False) as conn:
            await write(conn)

    # Either raising (40P01 is a `Retry`, 503) fails the test.
    await asyncio.wait_for(asyncio.gather(tree_put(), single_node()), timeout=30)


async def node_id(client: httpx.AsyncClient, who: Creator, project: str, slug: str) -> uuid.UUID:
    """The id of the course's module or of one of its lessons."""
    tree = (await client.get(f"/v1/projects/{project}/tree", headers=who.headers)).json()
    module = tree["nodes"][0]["children"][0]
    return uuid.UUID(next(n["id"] for n in [module, *module["children"]] if n["slug"] == slug))


async def test_a_patch_racing_a_tree_put_of_its_project_does_not_deadlock(
    client: httpx.AsyncClient, engine: AsyncEngine, database: str, alice: Creator
) -> None:
    project = await new_project(client, alice)
    await write_tree(client, alice, project, COURSE)
    a = await node_id(client, alice, project, "a")
    update = ContentUpdate.model_validate({"title": "Novo"})
    await race(engine, database, alice, project,
               lambda conn: update_content(conn, a, update, if_match=None))  # fmt: skip
    tree = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers,
                             params={"include_body": "true"})).json()  # fmt: skip
    lesson = tree["nodes"][0]["children"][0]["children"][0]
    assert (lesson["title"], lesson["content"]) == ("Novo", "a\nmudado\n")  # both writes kept


@pytest.mark.parametrize("write", ["move", "delete", "restore"])
async def test_a_move_delete_or_restore_racing_a_tree_put_does_not_deadlock(
    client: httpx.AsyncClient, engine: AsyncEngine, database: str, alice: Creator, write: str
) -> None:
    project = await new_project(client, alice)
    await write_tree(client, alice, project, COURSE)
    b = await node_id(client, alice, project, "b")
    module = await node_id(client, alice, project, "modulo-1")
    if write == "restore":
        assert (await client.delete(f"/v1/contents/{b}", headers=alice.headers)).status_code == 204
    writes: dict[str, Callable[[AsyncConnection], Awaitable[object]]] = {
        "move": lambda conn: move_content(conn, b, module, 1),
        "delete": lambda conn: delete_content(conn, b, if_match=None),
        "restore": lambda conn: restore_content(conn, b),
    }
    await race(engine, database, alice, project, writes[write])
    tree = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)).json()
    lessons = [n["slug"] for n in tree["nodes"][0]["children"][0]["children"]]
    assert lessons == {"move": ["b", "a"], "delete": ["a"], "restore": ["a", "b"]}[write]


@pytest.mark.parametrize("write", ["patch", "delete"])
async def test_a_conditional_write_racing_a_tree_put_does_not_deadlock(
    client: httpx.AsyncClient, engine: AsyncEngine, database: str, alice: Creator, write: str
) -> None:
    """With `If-Match` the content's row is locked to compare its version:
    the project's row must still be locked before it. The write then waits
    for the PUT, which changed the lesson: a 412, not a 40P01."""
    project = await new_project(client, alice)
    await write_tree(client, alice, project, COURSE)
    a = await node_id(client, alice, project, "a")
    etag = (await client.get(f"/v1/contents/{a}", headers=alice.headers)).headers["ETag"]
    update = ContentUpdate.model_validate({"title": "Novo"})
    writes: dict[str, Callable[[AsyncConnection], Awaitable[object]]] = {
        "patch": lambda conn: update_content(conn, a, update, if_match=etag),
        "delete": lambda conn: delete_content(conn, a, if_match=etag),
    }
    refused: list[str] = []

    async def conditional(conn: AsyncConnection) -> None:
        try:
            await writes[write](conn)
        except PreconditionFailed:
            refused.append(write)

    await race(engine, database, alice, project, conditional)
    assert refused == [write]
    tree = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers,
                             params={"include_body": "true"})).json()  # fmt: skip
    lessons = tree["nodes"][0]["children"][0]["children"]
    assert [(n["title"], n["content"]) for n in lessons] == [
        ("A", "a\nmudado\n"), ("B", "b\nmudado\n")]  # fmt: skip
