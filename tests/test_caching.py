"""Caching by audience, conditional reads (304), HEAD, `Allow` on 405 and
`If-Match` (412): HTTP that a CDN, a browser and an editor can rely on."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from app.settings import Settings
from tests.factories import (
    Creator,
    create_audience,
    create_content,
    created,
    new_project,
    public_course,
    put_tree,
)
from tests.helpers import assert_problem
from tests.live import LiveServer
from tests.trees.courses import course_payload

PUBLIC = "public, max-age=60, s-maxage=300, stale-while-revalidate=60"
PRIVATE = "private, no-cache"


def assert_cacheable(response: httpx.Response, cache_control: str) -> str:
    """A 200 with a strong ETag, the audience's Cache-Control and the Vary a
    cache must key it by; returns the ETag."""
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == cache_control
    vary = {v.strip() for v in response.headers["vary"].split(",")}
    assert {"Authorization", "Accept-Encoding"} <= vary, vary
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"'), etag
    return etag


async def assert_not_modified(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], etag: str, cache_control: str
) -> None:
    """`If-None-Match` with the ETag (among others, weakly) answers 304,
    no body, with the 200's validator and caching headers."""
    held = {**headers, "If-None-Match": f'"nope", W/{etag}'}
    again = await client.get(url, headers=held)
    assert again.status_code == 304 and again.content == b"", (url, again.text)
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == cache_control
    assert "Authorization" in again.headers["vary"]


async def test_a_public_tree_is_public_for_anon_and_private_with_a_token(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project, _ = await public_course(client, alice)
    url = f"/v1/projects/{project}/tree"
    anon_etag = assert_cacheable(await client.get(url), PUBLIC)
    await assert_not_modified(client, url, {}, anon_etag, PUBLIC)
    mine = assert_cacheable(await client.get(url, headers=alice.headers), PRIVATE)
    await assert_not_modified(client, url, alice.headers, mine, PRIVATE)


async def test_cache_ages_come_from_the_settings(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    from app.main import create_app
    from tests.helpers import client_for

    tuned = settings.model_copy(
        update={"cache_max_age": 5, "cache_s_maxage": 0, "cache_stale_while_revalidate": 7}
    )
    async for client in client_for(create_app(tuned, database_url=api_url)):
        project, _ = await public_course(client, alice)
        response = await client.get(f"/v1/projects/{project}/tree")
        assert response.headers["cache-control"] == (
            "public, max-age=5, s-maxage=0, stale-while-revalidate=7"
        )


@pytest.mark.pure
@pytest.mark.parametrize(
    "name", ["CACHE_MAX_AGE", "CACHE_S_MAXAGE", "CACHE_STALE_WHILE_REVALIDATE"]
)
def test_cache_ages_are_never_negative(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(_env_file=None, **{name: -1})  # type: ignore[call-arg]


async def test_errors_are_never_stored(client: httpx.AsyncClient, alice: Creator) -> None:
    """A 404 (a private tree, for anon), a 401 and a 422 say `no-store`: a
    CDN keeping one would answer it to the next caller."""
    private = (await client.post(
        "/v1/projects", headers=alice.headers,
        json={"slug": "draft", "name": "Draft", "project_type": "course"},
    )).json()["id"]  # fmt: skip
    for response, status in (
        (await client.get(f"/v1/projects/{private}/tree"), 404),
        (await client.get("/v1/me"), 401),
        (await client.get(f"/v1/projects/{private}/tree", params={"max_depth": 0}), 422),
    ):
        assert_problem(response, status)
        assert response.headers["cache-control"] == "no-store", status
        assert "etag" not in response.headers


async def test_a_write_is_never_stored(client: httpx.AsyncClient, alice: Creator) -> None:
    project, _ = await public_course(client, alice)
    written = await put_tree(client, alice, project, course_payload("claude-code"))
    assert written.status_code == 200
    assert written.headers["cache-control"] == "no-store"
    assert written.headers["etag"], "a write answers the new ETag"


async def test_head_is_the_get_without_its_body(client: httpx.AsyncClient, alice: Creator) -> None:
    project, _ = await public_course(client, alice)
    await put_tree(client, alice, project, course_payload("claude-code"))
    url = f"/v1/projects/{project}/tree"
    for headers in ({}, alice.headers, {**alice.headers, "Accept-Encoding": "gzip"}):
        params = {"include_body": "true"}
        get = await client.get(url, headers=headers, params=params)
        head = await client.head(url, headers=headers, params=params)
        assert head.status_code == get.status_code == 200
        assert head.content == b""
        for name in ("content-length", "etag", "cache-control", "vary", "content-type"):
            assert head.headers.get(name) == get.headers.get(name), name
        held = await client.head(url, headers={**headers, "If-None-Match": get.headers["etag"]},
                                 params=params)  # fmt: skip
        assert held.status_code == 304
    missing = await client.head(f"/v1/projects/{uuid.uuid4()}/tree")
    assert missing.status_code == 404 and missing.content == b""


async def test_allow_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    """GET and PUT of a tree are two routes: 405 names both (and HEAD)."""
    response = await client.post(f"/v1/projects/{uuid.uuid4()}/tree")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD, PUT"
    assert response.headers["cache-control"] == "no-store"
    item = await client.post(f"/v1/projects/{uuid.uuid4()}")
    assert item.headers["allow"] == "GET, HEAD, PATCH, DELETE"


# ---- If-Match --------------------------------------------------------------------------


async def tree_etag(client: httpx.AsyncClient, who: Creator, project: str, **params: Any) -> str:
    response = await client.get(f"/v1/projects/{project}/tree", headers=who.headers, params=params)
    return str(response.headers["etag"])


async def put_if(
    client: httpx.AsyncClient, who: Creator, project: str, nodes: list[dict[str, Any]],
    if_match: str,
) -> httpx.Response:  # fmt: skip
    return await client.put(
        f"/v1/projects/{project}/tree",
        headers={**who.headers, "If-Match": if_match},
        json={"nodes": nodes},
    )


async def test_a_tree_put_with_a_stale_etag_is_refused(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    project, _ = await public_course(client, alice)
    payload = course_payload("claude-code")
    etag = await tree_etag(client, alice, project)
    first = await put_if(client, alice, project, payload, etag)
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == await tree_etag(client, alice, project), "chainable"

    edited = [{**payload[0], "title": "Someone else's title"}]
    stale = await put_if(client, alice, project, edited, etag)
    problem = assert_problem(stale, 412)
    assert problem["type"].endswith("/precondition-failed")
    assert stale.headers["cache-control"] == "no-store"
    assert await tree_etag(client, alice, project) == first.headers["etag"], "nothing written"

    # The ETag of the write, of a read with bodies, gzipped or not, or `*`.
    chained = await put_if(client, alice, project, edited, first.headers["etag"])
    assert chained.status_code == 200, chained.text
    with_bodies = await tree_etag(client, alice, project, include_body="true")
    assert (await put_if(client, alice, project, payload, with_bodies)).status_code == 200
    gzipped = (await client.get(
        f"/v1/projects/{project}/tree", params={"include_body": "true"},
        headers={**alice.headers, "Accept-Encoding": "gzip"},
    )).headers["etag"]  # fmt: skip
    assert gzipped.endswith('-gzip"')
    assert (await put_if(client, alice, project, edited, gzipped)).status_code == 200
    assert (await put_if(client, alice, project, payload, "*")).status_code == 200
    current = await tree_etag(client, alice, project)
    weak = await put_if(client, alice, project, edited, f"W/{current}")
    assert_problem(weak, 412)  # If-Match compares strongly
    assert_problem(await put_if(client, alice, project, edited, "not a tag"), 412)

    # Another tenant's project stays a 404 whatever If-Match says (bob can
    # read this public one: 403, as without If-Match), a missing one too.
    for if_match in ("*", current, '"x"'):
        assert_problem(await put_if(client, bob, project, edited, if_match), 403)
    private = (await client.post(
        "/v1/projects", headers=alice.headers,
        json={"slug": "draft", "name": "Draft", "project_type": "course"},
    )).json()["id"]  # fmt: skip
    for target in (private, str(uuid.uuid4())):
        for if_match in ("*", '"x"'):
            assert_problem(await put_if(client, bob, target, edited, if_match), 404)


async def test_two_editors_with_the_same_etag_one_wins(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """Two saves racing with the ETag they both read: one 200, one 412, and
    the tree is the winner's."""
    project, _ = await public_course(client, alice)
    base = course_payload("claude-code")
    await put_tree(client, alice, project, base)
    etag = await tree_etag(client, alice, project)
    edits = {name: [{**base[0], "title": f"{name}'s course"}, *base[1:]] for name in ("one", "two")}
    answers = await asyncio.gather(
        *(put_if(client, alice, project, nodes, etag) for nodes in edits.values())
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 412], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200)
    tree = await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)
    assert tree.headers["etag"] == winner.headers["etag"]
    assert tree.json()["nodes"][0]["title"] == winner.json()["nodes"][0]["title"]


# ---- every GET -------------------------------------------------------------------------


async def get_urls(client: httpx.AsyncClient, alice: Creator) -> tuple[list[str], list[str]]:
    """(the GETs anyone may send, the GETs that need a token) of one public
    course with a lesson, an audience and a research report of alice's."""
    project, lesson = await public_course(client, alice)
    audience = await create_audience(client, alice)
    research = created(await client.post(
        f"/v1/projects/{project}/market-research", headers=alice.headers,
        json={"research_type": "competitive_analysis", "report_data": {"a": 1}},
    ))  # fmt: skip
    public = [
        f"/v1/projects/{project}",
        "/v1/projects",
        f"/v1/contents/{lesson['id']}",
        f"/v1/contents?project_id={project}",
        f"/v1/contents/{lesson['id']}/minds",
        f"/v1/contents/{lesson['id']}/tags",
        f"/v1/projects/{project}/tree",
        f"/v1/contents/{lesson['id']}/tree",
        "/v1/search?q=introducao",
    ]
    signed_in = [
        "/v1/me",
        "/v1/audiences",
        f"/v1/audiences/{audience['id']}",
        "/v1/frameworks",
        f"/v1/projects/{project}/market-research",
        f"/v1/market-research/{research['id']}",
    ]
    return public, signed_in


async def test_every_get_is_validated_cached_by_audience_and_has_a_head(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    public, signed_in = await get_urls(client, alice)
    for url in public:
        anon = await client.get(url)
        assert anon.json() != {"items": [], "next_cursor": None}, url  # something to cache
        etag = assert_cacheable(anon, PUBLIC)
        await assert_not_modified(client, url, {}, etag, PUBLIC)
    for url in public + signed_in:
        mine = await client.get(url, headers=alice.headers)
        etag = assert_cacheable(mine, PRIVATE)
        await assert_not_modified(client, url, alice.headers, etag, PRIVATE)
        head = await client.head(url, headers=alice.headers)
        assert head.status_code == 200 and head.content == b"", url
        for name in ("content-length", "etag", "cache-control", "vary", "content-type"):
            assert head.headers.get(name) == mine.headers.get(name), (url, name)
    for url in signed_in:
        refused = await client.get(url)
        assert_problem(refused, 401)
        assert refused.headers["cache-control"] == "no-store", url


async def test_a_gzipped_list_page_has_its_own_etag(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """Any GET's answer big enough to be gzipped: one ETag per encoding,
    each 304ing for the client that would get that form."""
    project = await new_project(client, alice)
    for n in range(3):
        await create_content(client, alice, project, f"big-{n}", content="palavra " * 4000)
    url = f"/v1/contents?project_id={project}"
    etags = {}
    for coding in ("gzip", "identity"):
        headers = {**alice.headers, "Accept-Encoding": coding}
        response = await client.get(url, headers=headers)
        etags[coding] = assert_cacheable(response, PRIVATE)
        assert response.headers.get("content-encoding") == (coding if coding == "gzip" else None)
        await assert_not_modified(client, url, headers, etags[coding], PRIVATE)
    assert etags["gzip"] == etags["identity"][:-1] + '-gzip"'


# ---- If-Match on each write ------------------------------------------------------------


async def test_each_write_takes_if_match(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    """Project and content PATCH and DELETE: a stale ETag is a 412 that
    changes nothing, the current one (or `*`) writes and a PATCH answers the
    new ETag, the one a GET then gives; another creator's row answers as
    without If-Match."""
    project, lesson = await public_course(client, alice)
    draft = await create_content(client, alice, project, "draft")
    # A 412 must not tell bob a row exists: alice's draft is 404 for him
    # whatever he sends; her published lesson 403, as without If-Match.
    for content, status in ((draft, 404), (lesson, 403)):
        url = f"/v1/contents/{content['id']}"
        for if_match in ("*", '"nope"', None):
            headers = {**bob.headers, **({"If-Match": if_match} if if_match else {})}
            patched = await client.patch(url, headers=headers, json={"title": "mine"})
            assert_problem(patched, status)
            assert_problem(await client.delete(url, headers=headers), status)
    for url, patch in (
        (f"/v1/contents/{draft['id']}", {"title": "new"}),
        (f"/v1/projects/{project}", {"description": "new"}),
    ):
        etag = (await client.get(url, headers=alice.headers)).headers["etag"]
        first = await client.patch(url, headers={**alice.headers, "If-Match": etag}, json=patch)
        assert first.status_code == 200, first.text
        assert first.headers["cache-control"] == "no-store"
        now = await client.get(url, headers=alice.headers)
        assert first.headers["etag"] == now.headers["etag"] != etag, url
        assert first.content == now.content

        for method, body in (("PATCH", {**patch, "description": "stale"}), ("DELETE", None)):
            body = {"title": "stale"} if "contents" in url and body else body
            stale = await client.request(
                method, url, headers={**alice.headers, "If-Match": etag}, json=body
            )
            assert assert_problem(stale, 412)["type"].endswith("/precondition-failed"), url
            assert (await client.get(url, headers=alice.headers)).content == now.content

        chained = await client.patch(
            url, headers={**alice.headers, "If-Match": first.headers["etag"]}, json=patch
        )
        assert chained.status_code == 200, "the write's ETag is the current one"
        gone = await client.delete(url, headers={**alice.headers, "If-Match": "*"})
        assert gone.status_code == 204, url
        again = await client.delete(url, headers={**alice.headers, "If-Match": "*"})
        assert_problem(again, 404)  # `*`: only if it exists


async def test_two_editors_of_one_content_one_wins(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    content = await create_content(client, alice, project)
    url = f"/v1/contents/{content['id']}"
    etag = (await client.get(url, headers=alice.headers)).headers["etag"]
    answers = await asyncio.gather(
        *(
            client.patch(url, headers={**alice.headers, "If-Match": etag}, json={"title": title})
            for title in ("one", "two")
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200)
    assert (await client.get(url, headers=alice.headers)).content == winner.content


async def test_a_replay_is_the_stored_answer_whatever_if_match_says(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """Idempotency-Key with If-Match: a retry of a PATCH that went in (its
    If-Match now stale) replays the first answer and its ETag, no 412;
    another key with the stale ETag is a 412."""
    project = await new_project(client, alice)
    content = await create_content(client, alice, project)
    url = f"/v1/contents/{content['id']}"
    etag = (await client.get(url, headers=alice.headers)).headers["etag"]
    headers = {**alice.headers, "If-Match": etag, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.patch(url, headers=headers, json={"title": "once"})
    assert first.status_code == 200, first.text
    retry = await client.patch(url, headers=headers, json={"title": "once"})
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.json() == first.json()
    other = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    assert_problem(await client.patch(url, headers=other, json={"title": "once"}), 412)

    tree_key = {**alice.headers, "Idempotency-Key": str(uuid.uuid4())}
    tree_url = f"/v1/projects/{project}/tree"
    tree_etag = (await client.get(tree_url, headers=alice.headers)).headers["etag"]
    body = {"nodes": course_payload("claude-code")}
    put = await client.put(tree_url, headers={**tree_key, "If-Match": tree_etag}, json=body)
    assert put.status_code == 200, put.text
    replay = await client.put(tree_url, headers={**tree_key, "If-Match": tree_etag}, json=body)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["etag"] == put.headers["etag"]


async def test_cors_keeps_origin_in_vary_and_lets_pages_revalidate(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    """With CORS on, a cached answer also varies with Origin (Starlette adds
    it beside ours), a page may send If-None-Match and If-Match, and its
    script may read the ETag, on the 200 and on the 304."""
    from app.main import create_app
    from tests.helpers import client_for

    origin = "https://app.creatoros.dev"
    configured = settings.model_copy(update={"cors_origins": [origin]})
    async for client in client_for(create_app(configured, database_url=api_url)):
        project, _ = await public_course(client, alice)
        url = f"/v1/projects/{project}/tree"
        preflight = await client.options(url, headers={
            "Origin": origin, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "if-match, if-none-match, authorization",
        })  # fmt: skip
        assert preflight.status_code == 200, preflight.text
        first = await client.get(url, headers={"Origin": origin})
        etag = assert_cacheable(first, PUBLIC)
        held = await client.get(url, headers={"Origin": origin, "If-None-Match": etag})
        for response in (first, held):
            vary = {v.strip() for v in response.headers["vary"].split(",")}
            assert {"Authorization", "Accept-Encoding", "Origin"} <= vary, vary
            assert "etag" in response.headers["access-control-expose-headers"].lower()
            assert response.headers["access-control-allow-origin"] == origin
        assert held.status_code == 304


def test_head_through_a_real_server(settings: Settings, api_url: str) -> None:
    """uvicorn itself: a HEAD answers the GET's headers and no body (the
    server still knows the request was a HEAD), the connection stays usable."""
    server = LiveServer(settings, api_url)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as http:
            for path in ("/v1/projects", "/healthz", f"/v1/projects/{uuid.uuid4()}"):
                get, head = http.get(path), http.head(path)
                assert head.status_code == get.status_code, path
                assert head.content == b""
                assert head.headers["content-length"] == get.headers["content-length"]
                assert head.headers.get("etag") == get.headers.get("etag")
            assert http.get("/healthz").status_code == 200, "the connection is still good"
    finally:
        server.stop()
