"""Search on the real fixture lessons: Portuguese without accents or word
endings, ranks and snippets, RLS, hostile input, and the index."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import Principal
from app.db.tenancy import tenant_transaction
from app.search import sql
from app.search.indexer import index_batch, index_deferred
from app.search.schemas import MAX_QUERY_CHARS
from tests.factories import (
    Creator,
    create_project,
    grant_persona,
    new_project,
    provision,
    publish,
    token_headers,
    write_tree,
)
from tests.helpers import EXPLAIN_NESTED, count_deferred, hits, search, search_work, superuser
from tests.trees.courses import course_payload, flatten


def slugs_of(items: list[dict[str, Any]]) -> list[str]:
    return [item["file_path"].rsplit("/", 1)[-1].removesuffix(".md") for item in items]


@pytest.fixture
async def courses(client: httpx.AsyncClient, alice: Creator, bob: Creator) -> dict[str, str]:
    """alice writes claude-code, bob github-essencial; all drafts."""
    projects = {}
    for who, name in ((alice, "claude-code"), (bob, "github-essencial")):
        project = await new_project(client, who, name)
        await write_tree(client, who, project, course_payload(name))
        projects[name] = project
    return projects


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
    statistics, then the API's statement as alice, with auto_explain showing
    the plans of the statements the search function runs: the marked GIN
    index, and no sequential scan of `contents` anywhere — for a page of
    title matches and for one that reaches the body-only (base-rank) matches."""
    async with superuser(database) as su:
        admin = su.conn
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
        outer = []
        # Alice's lessons with these words in the title, then the rest; and a
        # page of body-only matches (no bulk title says "exemplo").
        for q, found in (("automação primeira", 7), ("exemplo", 21)):
            async with admin.transaction():
                await admin.execute(EXPLAIN_NESTED)  # before the role switch
                await admin.execute(
                    "SELECT set_config('role', 'authenticated', true),"
                    " set_config('request.jwt.claims', $1, true)",
                    claims,
                )
                args = (q, None, None, None, None, None, 21, "<mark>", "</mark>")
                assert len(await admin.fetch(sql.SEARCH, *args)) == found, q
                explained = await admin.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {sql.SEARCH}", *args)
                outer.append("\n".join(r[0] for r in explained))
        async with admin.transaction():
            await admin.execute(
                "SELECT set_config('role', 'authenticated', true),"
                " set_config('request.jwt.claims', $1, true)",
                claims,
            )
            # The same lookup written plainly, as the caller: RLS keeps `@@`
            # out of the index (it is not LEAKPROOF) — why the function exists.
            plain = "\n".join(
                r[0]
                for r in await admin.fetch(
                    "EXPLAIN (COSTS OFF) SELECT id FROM contents WHERE"
                    " creatoros_search_document(title, content, status, project_id)"
                    " @@ websearch_to_tsquery('public.creatoros_pt', $1)",
                    "primeira automação",
                )
            )
    for explained in outer:
        assert "Seq Scan on contents" not in explained, explained
        assert "pk_contents" in explained, explained
    nested = "\n".join(su.plans)
    # Both lookups of the function (title matches; then the base-rank rest, for
    # "exemplo", which no title says) scan the index of the stored documents,
    # and read alice's deferred rows (the fixture courses' lessons) by her
    # projects; no other deferred row is looked at.
    assert nested.count("idx_contents_search_stored") >= 3, nested
    assert nested.count("idx_contents_search_deferred_project") >= 3, nested
    assert "Seq Scan on contents" not in nested, nested
    # Nor a walk of the primary key in id order that rebuilds every passed
    # row's document (the planner's choice for "the first n by id" at full
    # bench scale, ~100 ms): the primary key only reads rows back by id.
    lines = nested.splitlines()
    for at, line in enumerate(lines):
        if "Scan using pk_contents on contents" in line:
            assert "Index Cond: (id = " in lines[at + 1], "\n".join(lines[at - 5 : at + 5])
    assert "Seq Scan on contents" in plain, plain


# ---- the fast path is exact -------------------------------------------------------------

# The plain definition of the answer, as the caller (RLS decides): every
# matching row of the words-only document (0006's), ranked by ts_rank of its
# title, best first, ties by id. No markers, no index, no function: what
# `creatoros_internal.search_page` must return page by page.
REFERENCE = text(
    """
    SELECT c.id::text AS id,
           ts_rank(setweight(to_tsvector('public.creatoros_pt',
                   public.creatoros_pt_fold(coalesce(c.title, ''))), 'A'), q.q)::float8 AS rank
    FROM contents c,
         (SELECT websearch_to_tsquery('public.creatoros_pt', public.creatoros_pt_fold(:q)) AS q) q
    WHERE c.deleted_at IS NULL
      AND to_tsvector('public.creatoros_pt', public.creatoros_pt_fold(
              coalesce(c.title, '') || ' ' || coalesce(c.content, ''))) @@ q.q
      AND (CAST(:project_id AS uuid) IS NULL OR c.project_id = CAST(:project_id AS uuid))
      AND (CAST(:content_type AS text) IS NULL OR c.content_type = CAST(:content_type AS text))
      AND (CAST(:status AS text) IS NULL OR c.status = CAST(:status AS text))
    ORDER BY rank DESC, c.id
    """
)

FUNCTION_PAGE = text(
    """
    SELECT id::text AS id, rank FROM creatoros_internal.search_page(
        websearch_to_tsquery('public.creatoros_pt', public.creatoros_pt_fold(:q)),
        CAST(:project_id AS uuid), CAST(:content_type AS text), CAST(:status AS text),
        NULL, NULL, 100000)
    """
)

EXACT_QUERIES = [
    "claude", "automação", "automacoes de tarefas", '"pull request"', '"code review"',
    "git -commit", "hooks or git", "prompt", "agente", "configuracao do ambiente",
    "ferramentas de IA", "claude code -magia", '"claude code" or github',
    "claude code or git hooks",
]  # fmt: skip


async def walk(
    client: httpx.AsyncClient, headers: dict[str, str], q: str, limit: int, **filters: Any
) -> list[tuple[str, float]]:
    """Every page of a search, following the cursor."""
    found: list[tuple[str, float]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": q, "limit": limit, **filters}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/search", headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found += [(i["id"], i["rank"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def exact_answer(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    caller: tuple[Principal, dict[str, str]],
    q: str,
    filters: dict[str, Any],
    limits: tuple[int, ...],
) -> list[tuple[Any, float]]:
    """The plain reference query's (id, rank) for `caller`, after checking
    that the search function alone, in one page, gives exactly it (it keeps
    what RLS lets through: the read-back cannot hide an extra row here) and
    that the API, page by page at each limit, does too."""
    principal, headers = caller
    no_filter = {"project_id": None, "content_type": None, "status": None}
    async with tenant_transaction(engine, principal, read_only=True) as conn:
        rows = await conn.execute(REFERENCE, {"q": q, **no_filter, **filters})
        expected = [(r.id, r.rank) for r in rows]
        page = await conn.execute(FUNCTION_PAGE, {"q": q, **no_filter, **filters})
        assert [(r.id, r.rank) for r in page] == expected, (principal.role, q, filters)
    for limit in limits:
        got = await walk(client, headers, q, limit, **filters)
        assert got == expected, (principal.role, principal.claims, q, filters, limit)
    return expected


@pytest.mark.parametrize("indexing", ["indexed", "half indexed"])
async def test_the_marked_index_answers_exactly_the_plain_definition(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    alice: Creator,
    bob: Creator,
    courses: dict[str, str],
    indexing: str,
) -> None:
    """Page by page, the API's search returns exactly the ids, ranks and order
    of the plain reference query (every match ranked, as the caller), for
    words, phrases, exclusions, OR and filters, as a creator, a persona, anon
    and service_role: the markers narrow the lookup and lose nothing. The
    same whether the tree writes' rows are all indexed or only some (the
    others' documents built on the fly; the other tests here search rows
    that are all deferred)."""
    for q in ("pull request", "commits", "git"):
        await publish(client, bob, (await hits(client, bob, q))[0]["id"])
    deleted = (await hits(client, alice, "claude"))[-1]["id"]
    assert (await client.delete(f"/v1/contents/{deleted}", headers=alice.headers)).status_code
    # An empty project of alice's: the function leaves it out of her
    # markers (it adds cost and no rows); the answers must not change.
    await create_project(client, alice, "empty", name="Empty")
    carol = await provision(engine, "carol")
    await grant_persona(client, carol, alice)
    voiced = await client.patch(
        f"/v1/projects/{courses['claude-code']}", headers=alice.headers,
        json={"persona_mind_id": str(carol.mind_id)},
    )  # fmt: skip
    assert voiced.status_code == 200, voiced.text
    deferred = await count_deferred(engine)
    assert deferred > 20, deferred  # the courses' rows, written by PUT …/tree
    if indexing == "indexed":
        assert await index_deferred(engine, batch_size=10) == deferred
    elif indexing == "half indexed":
        assert await index_batch(engine, deferred // 2) == deferred // 2
    callers = [
        (alice.principal, alice.headers),
        (bob.principal, bob.headers),
        (carol.principal, carol.headers),
        (Principal(role="anon"), {}),
        (Principal(role="service_role"), token_headers(None, "service_role")),
    ]
    cases: list[tuple[str, dict[str, Any]]] = [(q, {}) for q in EXACT_QUERIES]
    cases += [
        ("claude", {"content_type": "course_lesson"}),
        ("git", {"status": "published"}),
        ("git", {"project_id": courses["github-essencial"]}),
        ("automação", {"project_id": courses["claude-code"], "content_type": "course_lesson"}),
    ]
    compared = 0
    for principal, headers in callers:
        for q, filters in cases:
            expected = await exact_answer(
                engine, client, (principal, headers), q, filters, (3, 200)
            )
            compared += len(expected)
            if principal.role == "service_role" and not filters:
                assert expected, q  # every query finds something: the test can fail
    assert compared > 400  # hundreds of (id, rank) pairs compared


# ---- id windows (issue 20, item 11) -----------------------------------------------------

# Rows at the edges of the id windows: the first and last ids, the last and
# first of neighbouring slots (an id's first three hex digits) and blocks.
EDGE_IDS = [
    "00000000-0000-4000-8000-000000000000", "000fffff-ffff-4fff-bfff-ffffffffffff",
    "00100000-0000-4000-8000-000000000000", "001fffff-ffff-4fff-bfff-ffffffffffff",
    "0ff00000-0000-4000-8000-000000000000", "0fffffff-ffff-4fff-bfff-ffffffffffff",
    "10000000-0000-4000-8000-000000000000", "7fffffff-ffff-4fff-bfff-ffffffffffff",
    "80000000-0000-4000-8000-000000000000", "fff00000-0000-4000-8000-000000000000",
    "ffffffff-ffff-4fff-bfff-ffffffffffff",
]  # fmt: skip

# $1 the ids to give the first rows, $2 the project, $3 how many rows, $4
# words of padding, $5 one in how many is published.
BULK = """
INSERT INTO contents (id, project_id, slug, title, content_type, content, status)
SELECT coalesce(($1::uuid[])[g], gen_random_uuid()), $2::uuid, 'bulk-' || g, 'Lição ' || g,
       'course_lesson',
       'texto de exemplo ' || CASE WHEN g % 4 = 0 THEN 'meio ' ELSE '' END
           || CASE WHEN g % 40 = 0 THEN 'raro ' ELSE '' END
           || CASE WHEN g % 3 = 0 THEN 'claude ' ELSE '' END || repeat('comum ', $4),
       CASE WHEN g % $5 = 0 THEN 'published' ELSE 'draft' END
FROM generate_series(1, $3) g
"""


async def test_pages_across_id_windows_are_exact(
    client: httpx.AsyncClient, database: str, engine: AsyncEngine, alice: Creator, bob: Creator,
    courses: dict[str, str],
) -> None:  # fmt: skip
    """The rows matched by no title word are read one window of ids at a
    time (revision 0011): 2,000 of alice's rows (half published, ids at the
    windows' edges among them) and her deferred lessons, searched by her (own
    and published), bob (published) and anon, page by page with cursors that
    fall inside windows: exactly the plain reference query's answer."""
    async with superuser(database) as su:
        await su.conn.execute(BULK, EDGE_IDS, courses["claude-code"], 2000, 5, 2)
    assert await count_deferred(engine) > 20  # the courses' lessons: built on the fly
    cases: list[tuple[str, dict[str, Any]]] = [
        ("exemplo", {}), ("meio", {}), ("raro", {}), ("claude", {}), ("exemplo -meio", {}),
        ('"texto de exemplo"', {}), ("meio", {"status": "draft"}),
    ]  # fmt: skip
    callers = [(alice.principal, alice.headers), (bob.principal, bob.headers),
               (Principal(role="anon"), {})]  # fmt: skip
    for principal, headers in callers:
        for q, filters in cases:
            limits = (7, 100) if q in ("meio", "raro") else (100,)
            expected = await exact_answer(engine, client, (principal, headers), q, filters, limits)
            assert expected or principal != alice.principal, q  # the test can fail
    found = {i["id"] for i in await hits(client, alice, "exemplo")}
    assert EDGE_IDS[0] in found


async def test_a_page_of_body_matches_reads_one_window_of_them(
    database: str, alice: Creator, courses: dict[str, str]
) -> None:  # fmt: skip
    """Issue 20, item 11: a page of rows that match the query in their body
    only (the base rank, in id order) read every match to keep the 21
    smallest ids: at bench scale ~5,000 rows on ~2,200 heap pages per search.
    Now the index hands the heap one window of ids at a time: with 6,000 of
    bob's published lessons saying "exemplo" (about 7 to a heap page), alice's
    search reads a few hundred buffers, not the thousand pages they fill."""
    async with superuser(database) as su:
        await su.conn.execute(BULK, [], courses["github-essencial"], 6000, 150, 1)
    buffers, rows = await search_work(database, alice, "exemplo")
    assert rows == 21
    assert buffers < 400, buffers
