"""Content trees: one-request reads and atomic, idempotent, set-based upserts."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenancy import tenant_transaction
from app.main import create_app
from app.settings import Settings
from tests.factories import Creator, grant_persona, new_project, put_tree
from tests.helpers import client_for, gauge
from tests.trees.courses import course_payload, flatten


def shape(nodes: list[dict[str, Any]], with_body: bool = False) -> list[Any]:
    """What a tree says, without ids: slugs, titles, types, order, bodies."""
    return [
        (n["slug"], n["title"], n["content_type"], n.get("content") if with_body else None,
         shape(n.get("children", []), with_body))
        for n in nodes
    ]  # fmt: skip


async def test_what_was_written_reads_back_exactly_in_order(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    payload = course_payload("claude-code")
    project = await new_project(client, alice, "claude-code")
    written = await put_tree(client, alice, project, payload)
    assert written.status_code == 200, written.text
    assert shape(written.json()["nodes"]) == shape(payload)

    read = await client.get(
        f"/v1/projects/{project}/tree", headers=alice.headers, params={"include_body": "true"}
    )
    assert read.status_code == 200
    assert shape(read.json()["nodes"], with_body=True) == shape(payload, with_body=True)
    lessons = [n for n in flatten(read.json()["nodes"]) if n["content_type"] == "course_lesson"]
    assert len(lessons) == 11  # ten N.M lessons and the BONUS file
    module_1 = read.json()["nodes"][0]["children"][0]
    assert [c["slug"] for c in module_1["children"]] == [
        "1.1-claude-code-nao-e-magia", "1.2-setup-rapido", "1.3-primeira-automacao",
    ]  # fmt: skip
    without = await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)
    assert all("content" not in n for n in flatten(without.json()["nodes"]))


async def test_a_rerun_is_idempotent(client: httpx.AsyncClient, alice: Creator) -> None:
    payload = course_payload("github-essencial")
    project = await new_project(client, alice, "github-essencial")
    first = (await put_tree(client, alice, project, payload)).json()
    first_ids = {n["slug"]: n["id"] for n in flatten(first["nodes"])}
    etag = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)).headers["etag"]

    second = (await put_tree(client, alice, project, payload)).json()
    assert {n["slug"]: n["id"] for n in flatten(second["nodes"])} == first_ids
    again = await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)
    assert again.headers["etag"] == etag, "an unchanged re-run changes nothing"
    listed = await client.get(
        "/v1/contents", headers=alice.headers, params={"project_id": project, "limit": 200}
    )
    assert len(listed.json()["items"]) == len(first_ids)

    # An edit updates in place.
    payload[0]["children"][0]["title"] = "Módulo zero"
    third = (await put_tree(client, alice, project, payload)).json()
    assert third["nodes"][0]["children"][0]["title"] == "Módulo zero"
    assert third["nodes"][0]["children"][0]["id"] == first["nodes"][0]["children"][0]["id"]


BAD_NODES = {
    "lesson under lesson": lambda t: t[0]["children"][0]["children"][0].setdefault(
        "children", []).append({"slug": "x", "title": "x", "content_type": "course_lesson"}),
    "module under module": lambda t: t[0]["children"][0]["children"].append(
        {"slug": "x", "title": "x", "content_type": "course_module"}),
    "duplicate slug": lambda t: t[0]["children"][1]["children"].append(
        dict(t[0]["children"][0]["children"][0])),
    "unknown type": lambda t: t[0]["children"][-1].update(content_type="podcast"),
    "fidelity above 1": lambda t: t[0]["children"][0].update(fidelity_score=1.01),
    "NUL in a body": lambda t: t[0]["children"][0]["children"][-1].update(content="a\u0000b"),
    "bad slug": lambda t: t[0]["children"][0].update(slug="Módulo 1"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_NODES))
async def test_a_bad_node_anywhere_leaves_the_tree_untouched(
    client: httpx.AsyncClient, alice: Creator, case: str
) -> None:
    payload = course_payload("claude-code")
    project = await new_project(client, alice, "claude-code")
    await put_tree(client, alice, project, payload)
    before = (await client.get(f"/v1/projects/{project}/tree?include_body=true",
                               headers=alice.headers)).json()  # fmt: skip

    broken = copy.deepcopy(payload)
    broken[0]["children"][0]["title"] = "changed, but must not land"
    BAD_NODES[case](broken)
    refused = await put_tree(client, alice, project, broken)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"], refused.text

    after = (await client.get(f"/v1/projects/{project}/tree?include_body=true",
                              headers=alice.headers)).json()  # fmt: skip
    assert after == before


async def test_limits_on_depth_and_size(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice, "claude-code")
    deep: dict[str, Any] = {"slug": "n0", "title": "n", "content_type": "other"}
    cursor = deep
    for level in range(1, 17):
        child = {"slug": f"n{level}", "title": "n", "content_type": "other"}
        cursor["children"] = [child]
        cursor = child
    too_deep = await put_tree(client, alice, project, [deep])
    assert too_deep.status_code == 422
    assert "deeper than 16" in str(too_deep.json()["errors"])

    wide = [{"slug": f"s{i}", "title": "s", "content_type": "other"} for i in range(5001)]
    too_many = await put_tree(client, alice, project, wide)
    assert too_many.status_code == 422
    listed = await client.get("/v1/contents", headers=alice.headers, params={"project_id": project})
    assert listed.json()["items"] == []


LESSON_TEXT = (
    '## Aula prática\n\nAbra o terminal e digite `claude "crie um script"`: '
    "a automação começa aqui, não é mágica.\n"
)


def five_thousand_nodes() -> list[dict[str, Any]]:
    """The issue's example: a 5,000-node course with 1 KB bodies (1 outline,
    49 modules of 101 lessons, one lesson under the outline)."""
    body = (LESSON_TEXT * 12)[:1000]

    def lesson(slug: str) -> dict[str, Any]:
        return {"slug": slug, "title": slug, "content_type": "course_lesson", "content": body}

    modules = [
        {"slug": f"m{m}", "title": f"Módulo {m}", "content_type": "course_module",
         "content": body, "children": [lesson(f"l{m}-{i}") for i in range(101)]}
        for m in range(49)
    ]  # fmt: skip
    return [{"slug": "curso", "title": "Curso", "content_type": "course_outline",
             "content": body, "children": [*modules, lesson("extra")]}]  # fmt: skip


async def test_a_5000_node_course_fits_the_default_body_limit(
    client: httpx.AsyncClient, alice: Creator, settings: Settings
) -> None:
    """~7 MB of JSON: over the old 5 MiB default (it answered 413), under
    the default MAX_BODY_BYTES; a body over it is still a 413."""
    project = await new_project(client, alice, "claude-code")
    nodes = five_thousand_nodes()
    assert len(flatten(nodes)) == 5000
    raw = json.dumps({"nodes": nodes}, ensure_ascii=False).encode()
    assert 5 * 1024 * 1024 < len(raw) < settings.max_body_bytes
    headers = {**alice.headers, "content-type": "application/json"}
    written = await client.put(f"/v1/projects/{project}/tree", content=raw, headers=headers)
    assert written.status_code == 200, written.text[:300]
    assert len(flatten(written.json()["nodes"])) == 5000

    too_big = raw + b" " * (settings.max_body_bytes - len(raw) + 1)
    refused = await client.put(f"/v1/projects/{project}/tree", content=too_big, headers=headers)
    assert refused.status_code == 413
    assert "MAX_BODY_BYTES" in refused.json()["detail"]


async def test_prune_soft_deletes_what_the_payload_left_out(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    payload = course_payload("claude-code")
    project = await new_project(client, alice, "claude-code")
    await put_tree(client, alice, project, payload)
    smaller = copy.deepcopy(payload)
    dropped = smaller[0]["children"].pop(1)  # module 2 and its lessons

    kept = await put_tree(client, alice, project, smaller)  # prune off: nothing removed
    assert len(flatten(kept.json()["nodes"])) == len(flatten(payload))
    pruned = await put_tree(client, alice, project, smaller, prune=True)
    slugs = {n["slug"] for n in flatten(pruned.json()["nodes"])}
    assert dropped["slug"] not in slugs
    assert not {n["slug"] for n in flatten([dropped])} & slugs
    assert len(slugs) == len(flatten(smaller))

    restored = await put_tree(client, alice, project, payload)  # a re-run revives them
    assert len(flatten(restored.json()["nodes"])) == len(flatten(payload))


async def test_the_upsert_is_set_based(
    settings: Settings, alice: Creator, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bounded number of statements whatever the size of the tree."""
    counts: list[int] = []
    from app.db import tenancy

    raw_run = tenancy._run

    async def counted_run(driver: Any, call: Any, statement: str, args: Any) -> Any:
        # Every statement of the door (BEGIN and the switch, the services'
        # `$n` SQL, COMMIT) goes through `_run` on the asyncpg driver.
        statements.append(statement)
        return await raw_run(driver, call, statement, args)

    monkeypatch.setattr(tenancy, "_run", counted_run)

    def count_statements(size: int) -> list[dict[str, Any]]:
        return [{"slug": "outline", "title": "o", "content_type": "course_outline", "children": [
            {"slug": f"m{m}", "title": "m", "content_type": "course_module", "children": [
                {"slug": f"l{m}-{i}", "title": "l", "content_type": "course_lesson"}
                for i in range(size)]} for m in range(size)]}]  # fmt: skip

    statements: list[str] = []
    for size in (2, 20):
        app = create_app(settings, database_url=api_url)
        async for c in client_for(app):

            @event.listens_for(app.state.engine.sync_engine, "before_cursor_execute")
            def record(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
                # Anything SQLAlchemy itself sent would be counted too.
                statements.append(statement)

            project = await new_project(c, alice, f"size-{size}")
            statements.clear()
            response = await put_tree(c, alice, project, count_statements(size))
            assert response.status_code == 200, response.text
        counts.append(len(statements))
    # BEGIN + switch (one message), lock, existing slugs, upsert; then
    # project + tree read back, the revision it made (Content-Revision); COMMIT
    assert counts[0] == counts[1] == 8, (counts, statements)


async def test_move_renumbers_and_refuses_cycles(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    project = await new_project(client, alice, "claude-code")
    tree = (await put_tree(client, alice, project, course_payload("claude-code"))).json()
    outline = tree["nodes"][0]
    module_1, module_2 = outline["children"][0], outline["children"][1]
    lesson = module_2["children"][2]

    moved = await client.post(
        f"/v1/contents/{lesson['id']}/move", headers=alice.headers,
        json={"parent_id": module_1["id"], "position": 1},
    )  # fmt: skip
    assert moved.status_code == 204, moved.text
    after = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)).json()
    new_1, new_2 = after["nodes"][0]["children"][0], after["nodes"][0]["children"][1]
    assert new_1["children"][0]["id"] == lesson["id"]
    assert [c["sequence_order"] for c in new_1["children"]] == list(range(1, 5))
    assert [c["sequence_order"] for c in new_2["children"]] == list(range(1, 5))
    assert lesson["id"] not in {c["id"] for c in new_2["children"]}

    cycle = await client.post(
        f"/v1/contents/{module_1['id']}/move", headers=alice.headers,
        json={"parent_id": lesson["id"]},
    )  # fmt: skip
    assert cycle.status_code == 422
    assert cycle.json()["type"].endswith("cycle")

    other = await new_project(client, alice, "other")
    elsewhere = await client.post(
        "/v1/contents", headers=alice.headers,
        json={"project_id": other, "slug": "x", "title": "x", "content_type": "course_module"},
    )  # fmt: skip
    across = await client.post(
        f"/v1/contents/{lesson['id']}/move", headers=alice.headers,
        json={"parent_id": elsewhere.json()["id"]},
    )  # fmt: skip
    assert across.status_code == 422
    theirs = await client.post(
        f"/v1/contents/{lesson['id']}/move", headers=bob.headers, json={"parent_id": None}
    )
    assert theirs.status_code == 404
    to_root = await client.post(
        f"/v1/contents/{module_2['id']}/move", headers=alice.headers, json={"parent_id": None}
    )
    assert to_root.status_code == 204
    roots = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)).json()
    assert [n["slug"] for n in roots["nodes"]] == ["claude-code", "modulo-2"]


async def test_etag_and_304(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice, "claude-code")
    await put_tree(client, alice, project, course_payload("claude-code"))
    url = f"/v1/projects/{project}/tree"
    first = await client.get(url, headers=alice.headers)
    etag = first.headers["etag"]
    not_modified = await client.get(url, headers={**alice.headers, "If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    anything = await client.get(url, headers={**alice.headers, "If-None-Match": "*"})
    assert anything.status_code == 304 and anything.headers["etag"] == etag
    with_body = await client.get(url, headers={**alice.headers, "If-None-Match": etag},
                                 params={"include_body": "true"})  # fmt: skip
    assert with_body.status_code == 200, "a different representation has another ETag"

    node = first.json()["nodes"][0]["children"][0]
    await client.patch(f"/v1/contents/{node['id']}", headers=alice.headers, json={"title": "new"})
    changed = await client.get(url, headers={**alice.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_each_encoding_of_a_tree_has_its_own_etag(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """A strong ETag names one representation, and gzip is another one: the
    same tree has one ETag gzipped and another as is. Each 304s only for a
    client that would get that same form, and says the answer varies with
    Accept-Encoding as its 200 does."""
    project = await new_project(client, alice, "claude-code")
    await put_tree(client, alice, project, course_payload("claude-code"))
    url, params = f"/v1/projects/{project}/tree", {"include_body": "true"}
    forms = {
        coding: {**alice.headers, "Accept-Encoding": coding} for coding in ("gzip", "identity")
    }
    etags = {}
    for coding, headers in forms.items():
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200
        etags[coding] = response.headers["etag"]
    assert etags["gzip"] == etags["identity"][:-1] + '-gzip"', etags

    for coding, headers in forms.items():
        for held, etag in etags.items():
            again = await client.get(
                url, params=params, headers={**headers, "If-None-Match": f'W/{etag}, "other"'}
            )
            if held == coding:
                assert again.status_code == 304 and again.content == b"", (coding, held)
                assert again.headers["etag"] == etag
                assert "Accept-Encoding" in again.headers["vary"]
                assert "content-type" not in again.headers
            else:
                assert again.status_code == 200, (coding, held)
                assert again.headers["etag"] == etags[coding]


async def test_big_trees_are_gzipped(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice, "claude-code")
    await put_tree(client, alice, project, course_payload("claude-code"))
    response = await client.get(
        f"/v1/projects/{project}/tree", params={"include_body": "true"},
        headers={**alice.headers, "Accept-Encoding": "gzip"},
    )  # fmt: skip
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content) / 2
    plain = await client.get(
        f"/v1/projects/{project}/tree", params={"include_body": "true"},
        headers={**alice.headers, "Accept-Encoding": "identity"},
    )  # fmt: skip
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == len(plain.content) == len(response.content)
    assert response.json() == plain.json()


async def gzip_cache_lookups(client: httpx.AsyncClient) -> tuple[float, float]:
    """The app's gzip cache counters so far: (hits, misses)."""
    text = (await client.get("/metrics")).text
    hits, misses = (
        gauge(text, f'gzip_cache_lookups_total{{result="{result}"}}') for result in ("hit", "miss")
    )
    return hits, misses


async def test_gzipped_trees_are_kept_by_etag(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    """A tree read again comes from the cache of compressed answers; a changed
    tree has a new ETag, so it is never answered with the old bytes."""
    app = create_app(settings, database_url=api_url)
    cache = app.state.compression.cache
    async for client in client_for(app):
        project = await new_project(client, alice, "claude-code")
        nodes = course_payload("claude-code")
        await put_tree(client, alice, project, nodes)
        gzipped = {**alice.headers, "Accept-Encoding": "gzip"}
        path, params = f"/v1/projects/{project}/tree", {"include_body": "true"}

        before = await gzip_cache_lookups(client)
        first = await client.get(path, params=params, headers=gzipped)
        etag = first.headers["etag"]
        assert etag.endswith('-gzip"'), etag
        stored = cache.get(etag.strip('"').removesuffix("-gzip"))
        assert stored is not None and len(stored) == int(first.headers["content-length"])
        again = await client.get(path, params=params, headers=gzipped)
        assert (again.headers["etag"], again.content) == (first.headers["etag"], first.content)
        hits, misses = await gzip_cache_lookups(client)
        assert (hits - before[0], misses - before[1]) == (1, 1)  # /metrics itself is not cached
        assert {v.strip() for v in again.headers["vary"].split(",")} == {
            "Authorization", "Accept-Encoding"
        }  # fmt: skip

        nodes[0]["title"] = "Renamed module"
        await put_tree(client, alice, project, nodes)
        changed = await client.get(path, params=params, headers=gzipped)
        assert changed.headers["etag"] != first.headers["etag"]
        assert changed.json()["nodes"][0]["title"] == "Renamed module"
        plain = await client.get(
            path, params=params, headers={**alice.headers, "Accept-Encoding": "identity"}
        )
        assert (
            "content-encoding" not in plain.headers and "Accept-Encoding" in plain.headers["vary"]
        )
        assert plain.json() == changed.json()
        # Never answered from alice's entry: to an anonymous caller her draft course is a 404.
        assert (
            await client.get(path, params=params, headers={"Accept-Encoding": "gzip"})
        ).status_code == 404


async def test_subtree_and_max_depth(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice, "claude-code")
    tree = (await put_tree(client, alice, project, course_payload("claude-code"))).json()
    module = tree["nodes"][0]["children"][1]
    sub = await client.get(f"/v1/contents/{module['id']}/tree", headers=alice.headers)
    assert sub.status_code == 200
    assert [n["id"] for n in sub.json()["nodes"]] == [module["id"]]
    assert len(sub.json()["nodes"][0]["children"]) == len(module["children"])
    shallow = await client.get(
        f"/v1/projects/{project}/tree", headers=alice.headers, params={"max_depth": 2}
    )
    assert all(m["children"] == [] for m in shallow.json()["nodes"][0]["children"])
    assert (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers,
                             params={"max_depth": 17})).status_code == 422  # fmt: skip


async def test_deleted_nodes_are_left_out(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice, "claude-code")
    tree = (await put_tree(client, alice, project, course_payload("claude-code"))).json()
    module = tree["nodes"][0]["children"][0]
    await client.delete(f"/v1/contents/{module['id']}", headers=alice.headers)
    after = (await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)).json()
    slugs = {n["slug"] for n in flatten(after["nodes"])}
    assert module["slug"] not in slugs
    assert not {c["slug"] for c in module["children"]} & slugs


async def test_rls_holds_for_trees(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    project = await new_project(client, alice, "claude-code")
    tree = (await put_tree(client, alice, project, course_payload("claude-code"))).json()
    node = tree["nodes"][0]["children"][0]
    for url in (f"/v1/projects/{project}/tree", f"/v1/contents/{node['id']}/tree"):
        assert (await client.get(url, headers=bob.headers)).status_code == 404
    missing = await client.get(f"/v1/projects/{uuid.uuid4()}/tree", headers=bob.headers)
    assert missing.status_code == 404
    theirs = await put_tree(client, bob, project, course_payload("claude-code"))
    assert theirs.status_code == 404
    # The persona (which consented) reads the tree and cannot write it.
    await grant_persona(client, bob, alice)
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("UPDATE content_projects SET persona_mind_id = :b WHERE id = :p"),
            {"b": bob.mind_id, "p": project},
        )
    assert (
        await client.get(f"/v1/projects/{project}/tree", headers=bob.headers)
    ).status_code == 200
    assert (await put_tree(client, bob, project, [])).status_code == 403


async def test_gzip_can_be_left_to_a_proxy(
    settings: Settings, api_url: str, alice: Creator
) -> None:

    app = create_app(settings.model_copy(update={"gzip_minimum_bytes": 0}), database_url=api_url)
    async for c in client_for(app):
        project = await new_project(c, alice, "claude-code")
        await put_tree(c, alice, project, course_payload("claude-code"))
        response = await c.get(
            f"/v1/projects/{project}/tree", params={"include_body": "true"},
            headers={**alice.headers, "Accept-Encoding": "gzip"},
        )  # fmt: skip
        assert response.status_code == 200
        assert "content-encoding" not in response.headers
