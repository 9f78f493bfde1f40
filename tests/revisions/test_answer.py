"""The tree PUT names the revision it made (`Content-Revision`), so a
client need not ask for the latest revision afterwards."""

from __future__ import annotations

import httpx

from tests.factories import Creator, new_project, put_tree

COURSE = [{"slug": "curso", "title": "Curso", "content_type": "course_outline", "children": [
    {"slug": "a", "title": "A", "content_type": "course_module"}]}]  # fmt: skip


async def test_a_tree_put_answers_the_revision_it_made_and_none_when_nothing_changed(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    first = await put_tree(client, alice, project, COURSE)
    assert first.status_code == 200 and first.headers["content-revision"] == "1"
    same = await put_tree(client, alice, project, COURSE)
    assert same.status_code == 200 and "content-revision" not in same.headers
    renamed = [{**COURSE[0], "title": "Outro"}]
    second = await put_tree(client, alice, project, renamed)
    latest = await client.get(f"/v1/projects/{project}/revisions", headers=alice.headers)
    assert second.headers["content-revision"] == str(latest.json()["items"][0]["number"]) == "2"


async def test_the_openapi_document_declares_the_revision_header_on_the_tree_put(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    answer = document["paths"]["/v1/projects/{project_id}/tree"]["put"]["responses"]["200"]
    reference = {"$ref": "#/components/headers/Content-Revision"}
    assert answer["headers"]["Content-Revision"] == reference
    assert document["components"]["headers"]["Content-Revision"]["schema"]["type"] == "integer"
