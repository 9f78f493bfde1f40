"""A revision on every path that changes a project's nodes, recorded by the
database (migration 0012's trigger): one per transaction, none for a write
that changes nothing; diffs; restores; the history's row level security."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import fetchval, tenant_transaction
from app.revisions.service import prune
from tests.factories import (
    Creator,
    create_content,
    created,
    new_project,
    publish,
    put_tree,
    write_tree,
)
from tests.helpers import superuser_dsn


async def as_superuser(database: str, sql: str) -> object:
    """One statement (or script) as the test database's superuser: RLS off."""
    conn = await asyncpg.connect(superuser_dsn(database))
    try:
        return await conn.fetchval(sql) if sql.startswith("SELECT") else await conn.execute(sql)
    finally:
        await conn.close()


async def as_user(engine: AsyncEngine, who: Creator, sql: str) -> object:
    """One statement as `who` would run it through the API (role and claims)."""
    async with tenant_transaction(engine, who.principal, read_only=False) as conn:
        return await fetchval(conn, sql)


async def summaries(client: httpx.AsyncClient, who: Creator, project: str) -> list[str]:
    """The project's revisions' summaries, the oldest first."""
    answer = await client.get(f"/v1/projects/{project}/revisions", headers=who.headers)
    assert answer.status_code == 200, answer.text
    return [r["summary"] for r in reversed(answer.json()["items"])]


def course(*lessons: tuple[str, str | None]) -> list[dict[str, Any]]:
    """A course of one module holding these (slug, body) lessons."""
    return [{"slug": "curso", "title": "Curso", "content_type": "course_outline", "children": [
        {"slug": "modulo-1", "title": "Módulo 1", "content_type": "course_module", "children": [
            {"slug": slug, "title": slug.title(), "content_type": "course_lesson", "content": body}
            for slug, body in lessons]}]}]  # fmt: skip


async def test_every_write_of_a_node_is_a_revision_and_a_no_op_is_none(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    h = alice.headers
    await write_tree(client, alice, project, course(("a", "A\n"), ("b", "B\n")))
    await write_tree(client, alice, project, course(("a", "A\n"), ("b", "B\n")))  # no-op
    node = await create_content(client, alice, project, "solto")
    patched = await client.patch(f"/v1/contents/{node['id']}", headers=h, json={"title": "Novo"})
    assert patched.status_code == 200
    same = await client.patch(f"/v1/contents/{node['id']}", headers=h, json={"title": "Novo"})
    assert same.status_code == 200  # the same title: nothing changed, nothing recorded
    tree = (await client.get(f"/v1/projects/{project}/tree", headers=h)).json()
    module = tree["nodes"][0]["children"][0]
    moved = await client.post(
        f"/v1/contents/{node['id']}/move", headers=h, json={"parent_id": module["id"]}
    )
    assert moved.status_code == 204, moved.text
    assert (await client.delete(f"/v1/contents/{node['id']}", headers=h)).status_code == 204
    restored = await client.post(f"/v1/contents/{node['id']}/restore", headers=h)
    assert restored.status_code == 200
    pruned = await put_tree(client, alice, project, course(("a", "A2\n")), prune=True)
    assert pruned.status_code == 200

    assert await summaries(client, alice, project) == [
        "4 added",  # the tree PUT (outline, module, 2 lessons)
        "1 added",  # POST /contents
        "1 changed",  # PATCH
        "1 moved",  # move (its new siblings kept their places)
        "1 removed",  # DELETE
        "1 added",  # restore
        "1 changed, 2 removed",  # the PUT with prune
    ]


async def test_a_transaction_is_one_revision_attributed_to_its_caller(
    client: httpx.AsyncClient, alice: Creator, database: str
) -> None:
    project = await new_project(client, alice)
    await write_tree(client, alice, project, course(("a", "A\n")))
    # Two statements of one transaction (a DBA's, as service_role): one revision.
    await as_superuser(
        database,
        f"""BEGIN;
        SET LOCAL application_name = 'creatoros req-42';
        UPDATE contents SET content = 'A2' WHERE project_id = '{project}' AND slug = 'a';
        UPDATE contents SET title = 'T' WHERE project_id = '{project}' AND slug = 'a';
        UPDATE contents SET sequence_order = 9 WHERE project_id = '{project}' AND slug = 'a';
        COMMIT;""",
    )
    answer = await client.get(f"/v1/projects/{project}/revisions", headers=alice.headers)
    latest, first = answer.json()["items"]
    assert latest["summary"] == "1 changed" and latest["request_id"] == "req-42"
    assert latest["mind_id"] is None  # not a signed-in caller's
    assert first["mind_id"] == str(alice.mind_id)


async def test_bodies_are_stored_once_per_distinct_text(
    client: httpx.AsyncClient, alice: Creator, database: str
) -> None:
    project = await new_project(client, alice)
    same = "# O mesmo texto\n" * 100
    await write_tree(client, alice, project, course(("a", same), ("b", same), ("c", "C\n")))
    for n in range(5):
        await write_tree(client, alice, project, course(("a", same), ("b", same), ("c", f"{n}")))
    # The current bodies are the live rows'; each replaced one is kept once
    # (the same text twice: one body).
    count = f"SELECT count(*) FROM content_bodies WHERE project_id = '{project}'"
    assert await as_superuser(database, count) == 5
    await write_tree(client, alice, project, course(("a", "A\n"), ("b", "B\n"), ("c", "4")))
    assert await as_superuser(database, count) == 5 + 1
    history = f"SELECT count(*) FROM content_history WHERE project_id = '{project}'"
    assert await as_superuser(database, history) == 5 + 5 + 2
    # …and every revision still reads back whole.
    first = await client.get(
        f"/v1/projects/{project}/tree", params={"revision": 1, "include_body": "true"},
        headers=alice.headers,
    )  # fmt: skip
    lessons = first.json()["nodes"][0]["children"][0]["children"]
    assert [n["content"] for n in lessons] == [same, same, "C\n"]


async def test_a_diff_names_each_changed_node_with_a_unified_diff_of_its_body(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    await write_tree(client, alice, project, course(("a", "um\ndois\n"), ("b", "B\n")))
    await write_tree(client, alice, project, course(("b", "B\n"), ("a", "um\ntrês\n"), ("c", "C")))
    answer = await client.get(
        f"/v1/projects/{project}/diff", params={"from": 1, "to": 2}, headers=alice.headers
    )
    assert answer.status_code == 200, answer.text
    diff = answer.json()
    assert (diff["from"], diff["to"]) == (1, 2)
    by_slug = {n["slug"]: n for n in diff["nodes"]}
    assert set(by_slug) == {"a", "b", "c"}
    assert by_slug["a"]["change"] == "changed"
    assert by_slug["a"]["fields"] == ["sequence_order", "content"]
    assert by_slug["a"]["before"] == {"sequence_order": 1}
    assert by_slug["a"]["after"] == {"sequence_order": 2}
    assert by_slug["a"]["body_diff"].splitlines() == [
        "--- a@1",
        "+++ a@2",
        "@@ -1,2 +1,2 @@",
        " um",
        "-dois",
        "+três",
    ]
    assert (by_slug["b"]["change"], by_slug["b"]["fields"]) == ("moved", ["sequence_order"])
    assert (
        by_slug["c"]["change"] == "added"
        and by_slug["c"]["body_diff"] == "--- c@1\n+++ c@2\n@@ -0,0 +1 @@\n+C"
    )
    back = await client.get(
        f"/v1/projects/{project}/diff", params={"from": 2, "to": 1}, headers=alice.headers
    )
    assert {n["slug"]: n["change"] for n in back.json()["nodes"]}["c"] == "removed"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/tree?revision=9", 404), ("/revisions/9", 404), ("/diff?from=1&to=9", 404),
     ("/diff?from=0&to=1", 422), ("/revisions?cursor=WyJ4Il0", 422)],
)  # fmt: skip
async def test_a_revision_that_does_not_exist_is_a_404_and_bad_input_a_422(
    client: httpx.AsyncClient, alice: Creator, path: str, status: int
) -> None:
    project = await new_project(client, alice)
    await write_tree(client, alice, project, course(("a", "A\n")))
    answer = await client.get(f"/v1/projects/{project}{path}", headers=alice.headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_restore_is_a_new_revision_and_a_restore_of_the_same_tree_is_none(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    first = await write_tree(client, alice, project, course(("a", "A\n")))
    await write_tree(client, alice, project, course(("a", "A2\n"), ("b", "B\n")))
    h = {**alice.headers, "Idempotency-Key": "restore-1"}
    restored = await client.post(f"/v1/projects/{project}/revisions/1/restore", headers=h)
    assert restored.status_code == 201, restored.text
    assert restored.json()["summary"] == "1 changed, 1 removed"
    assert restored.headers["location"] == f"/v1/projects/{project}/revisions/3"
    again = await client.post(f"/v1/projects/{project}/revisions/1/restore", headers=h)
    assert (again.status_code, again.json()) == (201, restored.json())  # replayed
    live = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)).json()
    assert live["nodes"] == first["nodes"]
    same = await client.post(f"/v1/projects/{project}/revisions/3/restore", headers=alice.headers)
    assert (same.status_code, same.json()["number"]) == (200, 3)
    assert len(await summaries(client, alice, project)) == 3


async def test_a_restore_puts_status_back_and_a_republished_node_is_stamped_anew(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """A restore is the creator's own revert: statuses go back as they were,
    outside PATCH's workflow (published → draft is a 409 there), and a node
    that becomes published again gets a new `published_at`, as a PATCH
    publishing it would stamp it."""
    project = await new_project(client, alice)
    tree = await write_tree(client, alice, project, course(("a", "A\n")))
    lesson = tree["nodes"][0]["children"][0]["children"][0]["id"]
    first = (await publish(client, alice, lesson))["published_at"]
    published = len(await summaries(client, alice, project))
    await client.patch(f"/v1/contents/{lesson}", headers=alice.headers, json={"status": "archived"})
    back = await client.post(f"/v1/projects/{project}/revisions/1/restore", headers=alice.headers)
    assert back.status_code == 201, back.text
    draft = (await client.get(f"/v1/contents/{lesson}", headers=alice.headers)).json()
    assert draft["status"] == "draft"
    again = await client.post(
        f"/v1/projects/{project}/revisions/{published}/restore", headers=alice.headers
    )
    assert again.status_code == 201, again.text
    node = (await client.get(f"/v1/contents/{lesson}", headers=alice.headers)).json()
    assert node["status"] == "published"
    assert node["published_at"] is not None and node["published_at"] > first
    public = await client.get(f"/v1/contents/{lesson}")
    assert public.status_code == 200, public.text


async def test_revisions_are_paged_latest_first(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice)
    for n in range(5):
        await write_tree(client, alice, project, course(("a", f"{n}\n")))
    numbers: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = created(
            await client.get(
                f"/v1/projects/{project}/revisions", params=params, headers=alice.headers
            ),
            200,
        )
        numbers += [r["number"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert numbers == [5, 4, 3, 2, 1]


async def test_the_history_is_the_creators_only_and_nobody_writes_it(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    project = await new_project(client, alice)
    await write_tree(client, alice, project, course(("a", "A\n")))
    await write_tree(client, alice, project, course(("a", "A2\n")))  # "A\n" is kept
    for table in ("content_revisions", "content_history", "content_bodies"):
        assert await as_user(engine, bob, f"SELECT count(*) FROM {table}") == 0, table
        assert await as_user(engine, alice, f"SELECT count(*) FROM {table}") > 0  # type: ignore[operator]
        with pytest.raises(Exception, match="permission denied"):
            await as_user(engine, alice, f"DELETE FROM {table}")


async def test_retention_folds_old_revisions_and_every_kept_tree_reads_back_the_same(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, database: str
) -> None:
    project = await new_project(client, alice)
    for n in range(6):  # a changes every time, b every other time, c once
        lessons = (("a", f"A{n}\n"), ("b", f"B{n // 2}\n"), ("c", "C\n" if n < 3 else "C!\n"))
        await write_tree(client, alice, project, course(*lessons))

    async def tree(number: int) -> bytes:
        answer = await client.get(
            f"/v1/projects/{project}/tree", params={"revision": number, "include_body": "true"},
            headers=alice.headers,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.content

    before = {n: await tree(n) for n in (4, 5, 6)}
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        counted = await prune(conn, keep_last=3, daily=False, project_id=None, dry_run=True)
    assert counted.revisions == 3
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        pruned = await prune(conn, keep_last=3, daily=False, project_id=None, dry_run=False)
    assert pruned.revisions == 3
    # 1 to 3 folded into 4: the outline and module as added there, a, b, c changed.
    assert await summaries(client, alice, project) == [
        "2 added, 3 changed",
        "2 changed",
        "1 changed",
    ]
    assert {n: await tree(n) for n in (4, 5, 6)} == before
    gone = await client.get(f"/v1/projects/{project}/revisions/3", headers=alice.headers)
    assert gone.status_code == 404
    # Only the bodies the kept history names are left (A3, A4, B1; A5, B2, C! are live).
    count = f"SELECT count(*) FROM content_bodies WHERE project_id = '{project}'"
    assert await as_superuser(database, count) == 3


BODIES = st.one_of(
    st.sampled_from([None, "", "# Aula\n", "# Aula\r\n", "linha\nlinha\n", "ção 🚀", "\t \n"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"],
                                   exclude_characters="\x00"), max_size=30),
)  # fmt: skip
HISTORIES = st.lists(st.tuples(BODIES, BODIES, BODIES), min_size=1, max_size=5)


async def test_any_history_of_bodies_reads_back_and_restores_exactly(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """Property: for any sequence of writes of three lessons' bodies (texts
    repeated, emptied, brought back, any Unicode), every revision's tree
    holds exactly the bodies written then, and restoring one brings them
    back. Hypothesis draws the histories (in a synchronous test of its own);
    each is played on a project of its own."""
    histories: list[list[tuple[str | None, str | None, str | None]]] = []

    @settings(max_examples=30, deadline=None, derandomize=True, database=None)
    @given(history=HISTORIES)
    def collect(history: list[tuple[str | None, str | None, str | None]]) -> None:
        histories.append(history)

    collect()

    async def bodies_at(project: str, number: int | None) -> list[str | None]:
        params: dict[str, Any] = {"include_body": "true"}
        if number is not None:
            params["revision"] = number
        answer = await client.get(
            f"/v1/projects/{project}/tree", params=params, headers=alice.headers
        )
        assert answer.status_code == 200, answer.text
        return [n["content"] for n in answer.json()["nodes"][0]["children"][0]["children"]]

    for index, history in enumerate(histories):
        project = await new_project(client, alice, f"history-{index}")
        expected: list[list[str | None]] = []
        for bodies in history:
            await write_tree(client, alice, project, course(*zip("abc", bodies, strict=True)))
            if not expected or expected[-1] != list(bodies):
                expected.append(list(bodies))
        for number, bodies in enumerate(expected, start=1):
            assert await bodies_at(project, number) == bodies, (history, number)
        restored = await client.post(
            f"/v1/projects/{project}/revisions/1/restore", headers=alice.headers
        )
        assert restored.status_code in (200, 201), restored.text
        assert await bodies_at(project, None) == expected[0], history


async def test_a_deleted_project_takes_its_history_with_it(
    client: httpx.AsyncClient, alice: Creator, database: str
) -> None:
    # Its rows' project_id is set NULL by the cascade: the trigger must not
    # store their bodies for a project that is gone (a foreign key error, 422).
    project = await new_project(client, alice)
    await write_tree(client, alice, project, course(("a", "A\n"), ("b", "B\n")))
    await write_tree(client, alice, project, course(("a", "A2\n"), ("b", "B\n")))
    deleted = await client.delete(f"/v1/projects/{project}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    for table in ("content_revisions", "content_history", "content_bodies"):
        count = f"SELECT count(*) FROM {table} WHERE project_id = '{project}'"
        assert await as_superuser(database, count) == 0, table
