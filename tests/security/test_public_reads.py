"""A public course page: published projects, contents and trees are readable
with no token (or an anon token), as `anon`, and row level security decides."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Creator, create_audience, publish_course, token_headers

ANON_TOKEN = token_headers(None, "anon")
# What a project's public projection holds back (or filters: project_metadata).
PRIVATE = {"project_metadata", "target_audience_id", "default_frameworks"}


@pytest.mark.parametrize("headers", [{}, ANON_TOKEN], ids=["no token", "anon token"])
async def test_published_work_is_readable_without_a_token(
    client: httpx.AsyncClient, alice: Creator, headers: dict[str, str]
) -> None:
    course, private = await publish_course(client, alice)

    projects = await client.get("/v1/projects", headers=headers)
    assert projects.status_code == 200, projects.text
    assert [p["id"] for p in projects.json()["items"]] == [course]
    assert (await client.get(f"/v1/projects/{course}", headers=headers)).status_code == 200
    assert (await client.get(f"/v1/projects/{private}", headers=headers)).status_code == 404

    contents = await client.get("/v1/contents", headers=headers)
    assert contents.status_code == 200
    assert sorted(c["slug"] for c in contents.json()["items"]) == ["l1", "outline"]

    tree = await client.get(f"/v1/projects/{course}/tree", headers=headers)
    assert tree.status_code == 200, tree.text
    outline = tree.json()["nodes"][0]
    assert outline["slug"] == "outline"
    assert [n["slug"] for n in outline["children"]] == ["l1"]  # the draft lesson is not shown
    subtree = await client.get(f"/v1/contents/{outline['id']}/tree", headers=headers)
    assert subtree.status_code == 200
    assert (await client.get(f"/v1/projects/{private}/tree", headers=headers)).status_code == 404
    tags = await client.get(f"/v1/contents/{outline['id']}/tags", headers=headers)
    assert tags.status_code == 200

    # Reading is all: writes and private resources still need a user.
    write = await client.patch(f"/v1/projects/{course}", headers=headers, json={"name": "x"})
    assert write.status_code == 401
    assert write.headers["www-authenticate"].startswith("Bearer")
    for path in ("/v1/me", "/v1/frameworks", "/v1/audiences"):
        assert (await client.get(path, headers=headers)).status_code == 401


async def test_a_signed_in_creator_reads_what_anon_reads(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    """Another creator's public project, its tree and its published lesson
    answer a signed-in caller as they answer anon (they were 404: the public
    projects' policy was anon's only)."""
    course, private = await publish_course(client, alice)
    tree = await client.get(f"/v1/projects/{course}/tree", headers=alice.headers)
    outline = tree.json()["nodes"][0]
    published, draft = outline["children"][0], outline["children"][1]
    for headers in ({}, bob.headers):
        public = (
            f"/v1/projects/{course}", f"/v1/projects/{course}/tree",
            f"/v1/contents/{outline['id']}/tree", f"/v1/contents/{published['id']}",
        )  # fmt: skip
        for url in public:
            assert (await client.get(url, headers=headers)).status_code == 200, url
        for url in (f"/v1/projects/{private}", f"/v1/contents/{draft['id']}"):
            assert (await client.get(url, headers=headers)).status_code == 404, url
        read = await client.get(f"/v1/projects/{course}/tree", headers=headers)
        assert [n["slug"] for n in read.json()["nodes"][0]["children"]] == ["l1"]
    # Writes stay the creator's.
    patched = await client.patch(f"/v1/projects/{course}", headers=bob.headers, json={"name": "x"})
    assert patched.status_code == 403


async def test_non_owners_read_the_public_projection_of_a_project(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    """No project_metadata but the keys its creator lists in `public_keys`, no
    audience, no default frameworks, for anon and for other creators, in every
    read of the project (get, list, tree); its creator reads it whole."""
    course, _ = await publish_course(client, alice)
    audience = await create_audience(client, alice)
    metadata = {"persona": {"notes": "tom de voz"}, "curriculum": ["m1", "m2"],
                "public_keys": ["curriculum", "absent"]}  # fmt: skip
    patched = await client.patch(f"/v1/projects/{course}", headers=alice.headers, json={
        "project_metadata": metadata, "target_audience_id": audience["id"]})  # fmt: skip
    assert patched.status_code == 200, patched.text
    whole = patched.json()
    assert whole["project_metadata"] == metadata

    for headers in ({}, ANON_TOKEN, bob.headers):
        got = (await client.get(f"/v1/projects/{course}", headers=headers)).json()
        assert got["project_metadata"] == {"curriculum": ["m1", "m2"]}
        assert got["target_audience_id"] is None and got["default_frameworks"] is None
        assert {k: v for k, v in got.items() if k not in PRIVATE} == {
            k: v for k, v in whole.items() if k not in PRIVATE
        }
        tree = (await client.get(f"/v1/projects/{course}/tree", headers=headers)).json()
        assert tree["project"] == got
    listed = (await client.get("/v1/projects", headers={})).json()["items"]
    assert listed == [got]
    for field in ("project_metadata", "target_audience_id"):
        own = (await client.get(f"/v1/projects/{course}", headers=alice.headers)).json()
        assert own[field] == whole[field]
    # Without `public_keys`, nothing of the metadata is public.
    await client.patch(f"/v1/projects/{course}", headers=alice.headers,
                       json={"project_metadata": {"public_keys": None}})  # fmt: skip
    got = (await client.get(f"/v1/projects/{course}", headers=bob.headers)).json()
    assert got["project_metadata"] == {}
