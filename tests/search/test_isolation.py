"""Search is one tenant's business (issue 20): what another tenant
publishes, rewrites or leaves deferred never adds to a search's work, and
the search index's state is the database's, never a tenant's to set. And
snippets are HTML whose only markup is the configured marks."""

from __future__ import annotations

import random
import re
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenancy import tenant_transaction
from app.main import create_app
from app.search import sql
from app.search.indexer import index_deferred
from app.settings import Settings
from tests.factories import Creator, new_project, publish, write_tree
from tests.helpers import client_for, count_deferred, hits, search_reads, superuser
from tests.trees.courses import course_payload

MARKS = ("<mark>", "</mark>")


def big_body(rng: random.Random, kilobytes: int) -> str:
    """Words no query here asks for, ~`kilobytes` KB of them."""
    return " ".join(f"z{rng.getrandbits(40):x}" for _ in range(kilobytes * 1024 // 12))


async def test_another_tenants_big_published_and_rewritten_bodies_add_no_work(
    client: httpx.AsyncClient, database: str, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    """Issue 20, item 3: bob publishes 40 bodies of 100 KB on a fresh
    database (no VACUUM, no ANALYZE), then rewrites half of them with a tree
    write (published, their indexing deferred). Alice's search reads none of
    his rows: his indexed rows hold none of her words (and the index has no
    pending list that every search scans), and his deferred rows are not hers
    to search (nobody rebuilds their documents but him)."""
    alices = await new_project(client, alice, "claude-code")
    await write_tree(client, alice, alices, course_payload("claude-code"))
    await index_deferred(engine, batch_size=500)
    before = await search_reads(database, alice, "claude")
    assert before.found >= 10  # her title matches, and the base-rank rest

    rng = random.Random(20)
    bobs = await new_project(client, bob, "big")
    nodes = [
        {"slug": f"l{n}", "title": f"Lição {n}", "content_type": "course_outline",
         "content": big_body(rng, 100)}
        for n in range(40)
    ]  # fmt: skip
    written = await write_tree(client, bob, bobs, nodes)
    for node in written["nodes"]:
        await publish(client, bob, node["id"])  # indexed in the PATCH
    for node in nodes[:20]:
        node["content"] = big_body(rng, 100)
    await write_tree(client, bob, bobs, nodes)

    after = await search_reads(database, alice, "claude")
    assert after.found == before.found
    assert after.rows <= before.rows, (before, after)  # none of bob's rows
    # Bob's ~500,000 words and ~6,000 TOAST chunks make the index trees a
    # level taller, which each of her lookups' descents pays (by 1.36-1.44x
    # of the search index's pages, seen; the number of descents depends on
    # where her random ids fall). Reading his entries (a pending list) or
    # his rows' TOAST would cost thousands of pages.
    assert after.indexes <= 2 * before.indexes, (before, after)
    assert await count_deferred(engine) == 20  # published, and deferred

    # Bob himself finds his rewritten rows (built on the fly, at his cost);
    # anon and alice find them once the indexer has been.
    word = nodes[0]["content"].split()[7]
    assert [i["id"] for i in await hits(client, bob, word)] == [written["nodes"][0]["id"]]
    assert await hits(client, None, word) == []
    await index_deferred(engine, batch_size=500)
    assert [i["id"] for i in await hits(client, None, word)] == [written["nodes"][0]["id"]]
    assert [i["id"] for i in await hits(client, alice, word)] == [written["nodes"][0]["id"]]


async def test_the_search_index_has_no_pending_list(database: str) -> None:
    """Every search scans a GIN index's whole pending list until VACUUM
    merges it; the stored documents' index has none (fastupdate off)."""
    async with superuser(database) as admin:
        options = await admin.conn.fetchval(
            "SELECT reloptions FROM pg_class WHERE relname = 'idx_contents_search_stored'"
        )
    assert options == ["fastupdate=off"]


SET_FLAG = text("UPDATE contents SET search_deferred = true WHERE id = :id")
SET_DOCUMENT = text(
    "UPDATE contents SET search_document = to_tsvector('simple', 'forjado') WHERE id = :id"
)
STATE = text(
    "SELECT search_deferred, search_document::text AS document FROM contents WHERE id = :id"
)
INSERT_DEFERRED = text(
    "INSERT INTO contents (project_id, slug, title, content_type, content, search_deferred,"
    " search_document) VALUES (:project, 'forged', 'Forjado', 'course_lesson', 'texto', true,"
    " to_tsvector('simple', 'forjado')) RETURNING id"
)


async def test_a_tenant_cannot_set_the_search_state_of_a_content(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    """`search_deferred` and `search_document` are the database's: a tenant
    writing them (even on its own rows, with its own SQL) changes nothing,
    so it can neither hide a row from the index nor plant words in it."""
    project = await new_project(client, alice, "course")
    posted = await client.post(
        "/v1/contents", headers=alice.headers,
        json={"project_id": project, "slug": "a", "title": "Primeira aula",
              "content_type": "course_lesson", "content": "texto"},
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    content = posted.json()["id"]
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        before = (await conn.execute(STATE, {"id": content})).one()
        assert before.search_deferred is False and "'aul'" in before.document
        await conn.execute(SET_FLAG, {"id": content})
        await conn.execute(SET_DOCUMENT, {"id": content})
        assert (await conn.execute(STATE, {"id": content})).one() == before
        forged = (await conn.execute(INSERT_DEFERRED, {"project": project})).scalar_one()
        row = (await conn.execute(STATE, {"id": forged})).one()
        assert row.search_deferred is False
        assert "forjado" not in row.document and "'~ t forj'" in row.document
    assert [i["id"] for i in await hits(client, alice, "aula")] == [content]


# ---- snippets ---------------------------------------------------------------------------

PAYLOADS = [
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "\"><svg onload=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>", "<<b>>", "&lt;b&gt;", "<iframe src=//x>",
    "<mark>falsa</mark>", "'; alert(1); '", "<body onload=alert(1)>", "<img/src=x>", "</p><p>",
    "<img src=x onerror=alert",
]  # fmt: skip


# The API's snippet of each body ($4) for the query $1, with the marks $2, $3.
SNIPPETS = (
    f"SELECT {sql.snippet('b.body', '$2::text', '$3::text')}"
    " FROM unnest($4::text[]) WITH ORDINALITY AS b(body, n) ORDER BY b.n"
)


async def snippets(database: str, q: str, bodies: list[str], marks: tuple[str, str]) -> list[str]:
    async with superuser(database) as admin:
        rows = await admin.conn.fetch(SNIPPETS, q, *marks, bodies)
    return [row[0] for row in rows]


def unmarked(snippet: str, marks: tuple[str, str]) -> str:
    return snippet.replace(marks[0], "").replace(marks[1], "")


async def test_snippets_escape_the_body_and_keep_the_marks(database: str) -> None:
    """Issue 20, item 8: payloads of which 4 came back with raw markup, such
    as `<img src=x onerror=alert` (ts_headline drops whole tags only)."""
    bodies = [f"Uma aula de claude {p} e mais claude depois." for p in PAYLOADS]
    for marks in (MARKS, ("[[", "]]")):
        found = await snippets(database, "claude", bodies, marks)
        for body, snippet in zip(bodies, found, strict=True):
            assert snippet.count(marks[0]) == 2 == snippet.count(marks[1]), snippet
            text_only = unmarked(snippet, marks)
            assert "<" not in text_only and ">" not in text_only, (body, snippet)


BODY_TEXT = st.lists(
    st.one_of(
        st.sampled_from(["claude", "aula", "<", ">", "&", '"', "'", "<mark>", "</mark>", "&amp;",
                         "<img src=x onerror=alert(1)>", "\x02", "\x03", " ", "\n"]),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"],
                                       exclude_characters="\x00"), max_size=8),
    ),
    max_size=40,
).map("".join)  # fmt: skip


async def test_any_body_gives_a_snippet_without_raw_markup(database: str) -> None:
    """Property: for bodies made of words, `<`, `>`, `&`, quotes, would-be
    marks and the characters ts_headline marks with, the snippet without the
    configured marks holds no `<` or `>`. Hypothesis draws the bodies (in a
    synchronous test of its own: the database is asked once for all)."""
    bodies: list[str] = []

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(body=BODY_TEXT)
    def collect(body: str) -> None:
        bodies.append("claude " + body)

    collect()
    assert len(bodies) >= 200
    for marks in (MARKS, ("<b class=hit>", "</b>")):
        found = await snippets(database, "claude", bodies, marks)
        for body, snippet in zip(bodies, found, strict=True):
            assert not re.search("[<>]", unmarked(snippet, marks)), (body, snippet)
            assert marks[0] in snippet, (body, snippet)


@pytest.fixture
async def marked_client(settings: Settings, api_url: str) -> Any:
    """The app with other highlight marks configured."""
    configured = settings.model_copy(
        update={"search_highlight_start": "<em>", "search_highlight_stop": "</em>"}
    )
    async for c in client_for(create_app(configured, database_url=api_url)):
        yield c


async def test_the_api_answers_escaped_snippets_with_the_configured_marks(
    marked_client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(marked_client, alice, "course")
    nodes = [
        {"slug": f"x{n}", "title": f"Aula {n}", "content_type": "course_outline",
         "content": f"Sobre claude: {payload} fim."}
        for n, payload in enumerate(PAYLOADS)
    ]  # fmt: skip
    await write_tree(marked_client, alice, project, nodes)
    found = await hits(marked_client, alice, "claude")
    assert len(found) == len(PAYLOADS)
    for item in found:
        assert "<em>claude</em>" in item["snippet"], item["snippet"]
        assert not re.search("[<>]", unmarked(item["snippet"], ("<em>", "</em>"))), item
