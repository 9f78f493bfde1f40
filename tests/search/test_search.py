"""Search on the real fixture lessons: Portuguese without accents or word
endings, ranks and snippets, RLS, hostile input, and the index."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import Principal
from app.search import sql
from app.search.schemas import MAX_QUERY_CHARS
from app.tenancy import tenant_transaction
from tests.conftest import Creator, provision
from tests.trees.courses import course_payload, flatten
from tests.trees.test_trees import new_project, put_tree


async def search(
    client: httpx.AsyncClient, who: Creator | None, q: str, **params: Any
) -> httpx.Response:
    headers = who.headers if who is not None else {}
    return await client.get("/v1/search", headers=headers, params={"q": q, **params})


async def hits(client: httpx.AsyncClient, who: Creator | None, q: str, **params: Any) -> list[Any]:
    response = await search(client, who, q, limit=200, **params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def slugs_of(items: list[dict[str, Any]]) -> list[str]:
    return [item["file_path"].rsplit("/", 1)[-1].removesuffix(".md") for item in items]


@pytest.fixture
async def courses(client: httpx.AsyncClient, alice: Creator, bob: Creator) -> dict[str, str]:
    """alice writes claude-code, bob github-essencial; all drafts."""
    projects = {}
    for who, name in ((alice, "claude-code"), (bob, "github-essencial")):
        project = await new_project(client, who, name)
        written = await put_tree(client, who, project, course_payload(name))
        assert written.status_code == 200, written.text
        projects[name] = project
    return projects


async def publish(client: httpx.AsyncClient, who: Creator, content_id: str) -> None:
    for status in ("reviewed", "published"):
        response = await client.patch(
            f"/v1/contents/{content_id}", headers=who.headers, json={"status": status}
        )
        assert response.status_code == 200, response.text


async def test_accent_free_queries_find_the_accented_lessons(
    client: httpx.AsyncClient, alice: Creator, courses: dict[str, str]
) -> None:
    # "Primeira Automação" typed without accents: the lesson of that title first.
    found = await hits(client, alice, "primeira automacao")
    assert slugs_of(found)[0] == "1.3-primeira-automacao"
    # "Não é Magia" without accents.
    assert slugs_of(await hits(client, alice, "nao e magia"))[0] == "1.1-claude-code-nao-e-magia"
    # ...and with them, the same answer.
    assert slugs_of(await hits(client, alice, "não é mágia"))[0] == "1.1-claude-code-nao-e-magia"


async def test_singular_and_plural_find_each_other(
    client: httpx.AsyncClient, alice: Creator, bob: Creator, courses: dict[str, str]
) -> None:
    # Titles: "Primeira Automação" (1.3) and "Automações que Rodam Sozinhas" (2.5).
    for q in ("automacao", "automacoes", "automações"):
        top = slugs_of(await hits(client, alice, q))[:2]
        assert set(top) == {"1.3-primeira-automacao", "2.5-scheduler-automacoes"}, (q, top)
    # "Integrando com Suas Ferramentas" (4.3), asked in the singular.
    assert slugs_of(await hits(client, bob, "ferramenta"))[0] == "4.3-proximos-passos"
    # "Versoes Paralelas (Branches)": "versao" → "versoes" (plural, no accent in the title).
    assert "3.1-branches" in slugs_of(await hits(client, bob, "versão paralela"))


async def test_english_terms_are_found_as_written(
    client: httpx.AsyncClient, alice: Creator, bob: Creator, courses: dict[str, str]
) -> None:
    assert slugs_of(await hits(client, bob, "Pull Request"))[0] == "3.2-pull-request"
    assert "3.3-code-review" in slugs_of(await hits(client, bob, "review"))
    assert "2.1-web-scraping-inteligente" in slugs_of(await hits(client, alice, "web scraping"))
    assert "2.5-scheduler-automacoes" in slugs_of(await hits(client, alice, "scheduler"))
    for q in ("prompt", "workflow", "GitHub Actions", "dashboard"):
        bodies = [
            n for payload in (course_payload("claude-code"), course_payload("github-essencial"))
            for n in flatten(payload) if q.lower() in (n.get("content") or "").lower()
        ]  # fmt: skip
        assert bodies, f"the fixtures no longer mention {q!r}"
        found = await hits(client, alice, q) + await hits(client, bob, q)
        assert found, q


async def test_quoted_phrases_need_the_words_side_by_side(
    client: httpx.AsyncClient, bob: Creator, courses: dict[str, str]
) -> None:
    words = {i["id"] for i in await hits(client, bob, "request pull")}
    phrase = await hits(client, bob, '"pull request"')
    reversed_phrase = await hits(client, bob, '"request pull"')
    assert "3.2-pull-request" in slugs_of(phrase)
    assert {i["id"] for i in phrase} <= words
    assert len(reversed_phrase) < len(phrase)


async def test_snippets_mark_the_matches_and_ranks_are_ordered(
    client: httpx.AsyncClient, alice: Creator, courses: dict[str, str]
) -> None:
    found = await hits(client, alice, "automação")
    assert len(found) >= 3
    ranks = [item["rank"] for item in found]
    assert ranks == sorted(ranks, reverse=True)
    assert ranks[0] > ranks[-1]
    assert all(isinstance(item["snippet"], str) for item in found)
    assert any("<mark>" in item["snippet"] for item in found)
    top = found[0]
    assert "<mark>" in top["snippet"] and len(top["snippet"]) < 1000
    assert set(top) == {
        "id", "project_id", "title", "content_type", "status", "file_path", "rank", "snippet",
    }  # fmt: skip
    assert top["project_id"] == courses["claude-code"]


async def test_pages_follow_the_rank_without_gaps_or_repeats(
    client: httpx.AsyncClient, alice: Creator, courses: dict[str, str]
) -> None:
    everything = await hits(client, alice, "claude")
    assert len(everything) > 7
    paged: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await search(client, alice, "claude", **params)
        assert response.status_code == 200, response.text
        page = response.json()
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["id"] for i in paged] == [i["id"] for i in everything]


async def test_filters(client: httpx.AsyncClient, alice: Creator, courses: dict[str, str]) -> None:
    assert await hits(client, alice, "claude", content_type="course_module") == []
    lessons = await hits(client, alice, "claude", content_type="course_lesson")
    assert lessons and {i["content_type"] for i in lessons} == {"course_lesson"}
    assert await hits(client, alice, "claude", status="published") == []
    assert await hits(client, alice, "claude", project_id=courses["github-essencial"]) == []
    assert len(await hits(client, alice, "claude", project_id=courses["claude-code"])) == len(
        await hits(client, alice, "claude")
    )


async def test_other_creators_drafts_never_appear_and_anon_sees_published_only(
    client: httpx.AsyncClient, alice: Creator, bob: Creator, courses: dict[str, str]
) -> None:
    # "git" is all over bob's course and appears in alice's too.
    bobs = await hits(client, bob, "pull request")
    assert bobs and all(i["project_id"] == courses["github-essencial"] for i in bobs)
    assert all(i["project_id"] != courses["github-essencial"]
               for i in await hits(client, alice, "pull request"))  # fmt: skip
    assert await hits(client, None, "pull request") == []

    lesson = next(i for i in bobs if i["file_path"].endswith("3.2-pull-request.md"))
    await publish(client, bob, lesson["id"])

    seen_by_alice = [
        i for i in await hits(client, alice, "pull request")
        if i["project_id"] == courses["github-essencial"]
    ]  # fmt: skip
    assert [i["id"] for i in seen_by_alice] == [lesson["id"]]
    anon = await hits(client, None, "pull request")
    assert [i["id"] for i in anon] == [lesson["id"]]
    assert anon[0]["status"] == "published"
    # A deleted content disappears from search, published or not.
    deleted = await client.delete(f"/v1/contents/{lesson['id']}", headers=bob.headers)
    assert deleted.status_code == 204
    assert await hits(client, None, "pull request") == []
    assert lesson["id"] not in {i["id"] for i in await hits(client, bob, "pull request")}


HOSTILE = [
    '"', '""', '"unclosed phrase', "-", "--", "-claude", "claude or -git", "or", "and", "!",
    "!!!", "&|!<->():*", "claude:*", "claude & | git", "' OR 1=1 --", "'; DROP TABLE contents;",
    "\\", "%", "_", "😀", "😀 claude 🚀", "a" * 300, "ação " * 99, "\u200b", "\ufeffclaude",
    "claude\u0301", "\t\n", "the", "de a o e", "<mark>", "select * from contents",
    "x" * MAX_QUERY_CHARS, " ".join(["claude"] * 80), "\"claude code\" -magia or git",
]  # fmt: skip


@pytest.mark.parametrize("who", ["alice", "anon"])
async def test_hostile_queries_answer_200_or_422(
    client: httpx.AsyncClient, alice: Creator, courses: dict[str, str], who: str
) -> None:
    caller = alice if who == "alice" else None
    for q in HOSTILE:
        response = await search(client, caller, q)
        assert response.status_code in (200, 422), (q, response.status_code, response.text)
        if response.status_code == 422:
            assert response.headers["content-type"] == "application/problem+json"
    for q, why in [
        ("", "empty"),
        ("x" * (MAX_QUERY_CHARS + 1), "too long"),
        ("a" * 10_000, "10k characters"),
        ("claude\x00code", "NUL"),
        ("-claude", "nothing to look for"),
        ("claude or -git", "not answerable from the index"),
        ('claude -"pull request"', "excludes a phrase"),
    ]:
        response = await search(client, caller, q)
        assert response.status_code == 422, (why, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    # Only stop words or punctuation: nothing can match, and that is an answer.
    for q in ("de a o e", "!!!", "&|!<->():*"):
        response = await search(client, caller, q)
        assert response.status_code == 200 and response.json()["items"] == [], q


def forged(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


async def test_forged_cursors_are_422(
    client: httpx.AsyncClient, alice: Creator, courses: dict[str, str]
) -> None:
    good = (await search(client, alice, "claude", limit=1)).json()["next_cursor"]
    assert good is not None
    cursors = [
        "not-base64!", "AAAA", forged([]), forged([0.1]), forged(["x", "y"]),
        forged([0.1, "not-a-uuid"]), forged([True, "3f6a1c2e-0000-4000-8000-000000000001"]),
        forged({"rank": 1}), forged([1e400, "3f6a1c2e-0000-4000-8000-000000000001"]),
        forged([0.1, "3f6a1c2e-0000-4000-8000-000000000001", 3]), "%00", good[:-3],
        base64.urlsafe_b64encode(b'[NaN, "3f6a1c2e-0000-4000-8000-000000000001"]').decode(),
    ]  # fmt: skip
    for cursor in cursors:
        response = await search(client, alice, "claude", cursor=cursor)
        assert response.status_code == 422, (cursor, response.text)
    # A well-formed cursor for a row that does not exist is just a position.
    response = await search(
        client, alice, "claude", cursor=forged([0.5, "3f6a1c2e-0000-4000-8000-000000000001"])
    )
    assert response.status_code == 200


# ---- the index -------------------------------------------------------------------------


async def test_the_search_uses_the_gin_index_at_a_realistic_size(
    client: httpx.AsyncClient, database: str, alice: Creator, courses: dict[str, str]
) -> None:
    """30,000 more contents (alice's and published ones of another project),
    statistics, then EXPLAIN as alice: no sequential scan of `contents`
    anywhere — neither in the API's statement nor in the function it calls."""
    dsn = make_url(database).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(
            """INSERT INTO contents (project_id, slug, title, content_type, content, status)
               SELECT $1::uuid, 'bulk-' || g, 'Lição ' || g || ' sobre ' || md5(g::text),
                      'course_lesson',
                      repeat(md5(g::text) || ' texto de exemplo ' || (g % 997) || ' ', 20),
                      CASE WHEN g % 5 = 0 THEN 'published' ELSE 'draft' END
               FROM generate_series(1, 30000) g""",
            courses["claude-code"],
        )
        await admin.execute("ANALYZE contents")
        user = str(alice.principal.user_id)
        claims = json.dumps({"sub": user, "role": "authenticated"})
        async with admin.transaction():
            await admin.execute(
                "SELECT set_config('role', 'authenticated', true),"
                " set_config('request.jwt.claims', $1, true)",
                claims,
            )
            args = ("automação primeira", None, None, None, None, None, 21)
            outer = "\n".join(
                r[0] for r in await admin.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {sql.SEARCH}", *args)
            )
            # The function's own statement, as the function runs it (as its owner).
            inner_sql = await admin.fetchval(
                "SELECT prosrc FROM pg_proc WHERE proname = 'search_visible_content_ids'"
            )
            # The same statement written plainly, as the caller: RLS keeps `@@`
            # out of the index (it is not LEAKPROOF) — why the function exists.
            plain = "\n".join(
                r[0]
                for r in await admin.fetch(
                    "EXPLAIN (COSTS OFF) SELECT id FROM contents WHERE to_tsvector("
                    "'public.creatoros_pt'::regconfig, coalesce(title, '') || ' ' ||"
                    " coalesce(content, '')) @@ websearch_to_tsquery('public.creatoros_pt', $1)",
                    "primeira automação",
                )
            )
        # Its owner migrated the schema, as this (superuser) connection did.
        inner = "\n".join(
            r[0]
            for r in await admin.fetch(
                "EXPLAIN (COSTS OFF) " + re.sub(r"\bquery\b", "$1::tsquery", inner_sql),
                await admin.fetchval(
                    "SELECT websearch_to_tsquery('public.creatoros_pt', 'primeira automação')"
                ),
            )
        )
    finally:
        await admin.close()
    assert "Seq Scan on contents" not in outer, outer
    assert "pk_contents" in outer, outer
    assert "idx_contents_search" in inner and "Seq Scan on contents" not in inner, inner
    assert "Seq Scan on contents" in plain, plain


async def test_the_index_lookup_keeps_exactly_what_rls_lets_through(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    alice: Creator,
    bob: Creator,
    courses: dict[str, str],
) -> None:
    """`search_visible_content_ids` repeats the read policies of `contents`
    (it must: RLS keeps `@@` off the index). For every kind of caller it
    returns exactly the matching rows RLS shows that caller."""
    published = (await hits(client, bob, "pull request"))[0]["id"]
    await publish(client, bob, published)
    await client.delete(f"/v1/contents/{published}", headers=bob.headers)
    still = (await hits(client, bob, "commits"))[0]["id"]
    await publish(client, bob, still)
    # carol is the persona of alice's course: she reads its drafts.
    carol = await provision(engine, "carol")
    voiced = await client.patch(
        f"/v1/projects/{courses['claude-code']}", headers=alice.headers,
        json={"persona_mind_id": str(carol.mind_id)},
    )  # fmt: skip
    assert voiced.status_code == 200, voiced.text
    function = text(
        "SELECT creatoros_internal.search_visible_content_ids(websearch_to_tsquery("
        "'public.creatoros_pt', public.creatoros_pt_fold(:q)))"
    )
    plain = text(
        "SELECT id FROM contents WHERE to_tsvector('public.creatoros_pt',"
        " public.creatoros_pt_fold(coalesce(title, '') || ' ' || coalesce(content, '')))"
        " @@ websearch_to_tsquery('public.creatoros_pt', public.creatoros_pt_fold(:q))"
    )
    callers = [alice.principal, bob.principal, carol.principal, Principal(role="anon")]
    callers.append(Principal(role="service_role"))
    for principal in callers:
        seen = set()
        for q in ("git", "pull request", "commits", "automação", "claude", '"claude code"'):
            async with tenant_transaction(engine, principal, read_only=True) as conn:
                by_function = set((await conn.execute(function, {"q": q})).scalars())
                by_rls = set((await conn.execute(plain, {"q": q})).scalars())
            assert by_function == by_rls, (principal.role, q)
            seen |= by_rls
        assert seen, principal.role  # every caller sees something: the test can fail
