"""`Idempotency.created()`: every creating POST answers 201 with `Location`, and records
both under its `Idempotency-Key`, so a replay repeats them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import Response
from pydantic import BaseModel

from app.idempotency import HEADER, REPLAYED_HEADER, Idempotency
from tests.factories import Creator, lesson, new_project, write_tree


class Thing(BaseModel):
    id: int


@pytest.mark.pure
async def test_created_sets_location_and_returns_the_model() -> None:
    response = Response()
    thing = Thing(id=7)
    assert await Idempotency(None, None, response).created(thing, "/v1/things/7") is thing
    assert response.headers["Location"] == "/v1/things/7"


async def test_a_replayed_create_repeats_its_location(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    headers = {**alice.headers, HEADER: str(uuid.uuid4())}
    body = {"slug": "replayed", "name": "Replayed"}
    first = await client.post("/v1/audiences", headers=headers, json=body)
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/v1/audiences/{first.json()['id']}"
    again = await client.post("/v1/audiences", headers=headers, json=body)
    assert again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json() == first.json()


async def test_every_creating_post_answers_the_etag_its_get_answers(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """A 201 carries the ETag a GET of its `Location` answers (the bytes are
    the same), so a creator can write again with `If-Match` at once; a
    replay repeats it."""
    project = await new_project(client, alice)
    await write_tree(client, alice, project, [
        {"slug": "curso", "title": "Curso", "content_type": "course_outline"}])  # fmt: skip
    creates = {
        "/v1/projects": {"slug": "another", "name": "Another", "project_type": "course"},
        "/v1/contents": lesson(project, "solta"),
        "/v1/audiences": {"slug": "devs", "name": "Devs"},
        "/v1/frameworks": {"slug": "aida", "name": "AIDA", "framework_type": "marketing"},
        f"/v1/projects/{project}/market-research": {
            "research_type": "competitive_analysis", "report_data": {"a": 1}},
        f"/v1/projects/{project}/revisions/1/restore": None,
    }  # fmt: skip
    for url, body in creates.items():
        headers = {**alice.headers, HEADER: str(uuid.uuid4())}
        made = await client.post(url, headers=headers, json=body)
        assert made.status_code == 201, (url, made.text)
        read = await client.get(made.headers["Location"], headers=alice.headers)
        assert made.headers.get("ETag") == read.headers["ETag"], url
        assert made.headers["Cache-Control"] == "no-store", url
        again = await client.post(url, headers=headers, json=body)
        assert again.headers.get("ETag") == made.headers["ETag"], url
    upserted = await client.put(
        "/v1/projects/by-slug/by-slug", headers=alice.headers,
        json={"name": "By slug", "project_type": "course"},
    )  # fmt: skip
    assert upserted.status_code == 201, upserted.text
    read = await client.get(upserted.headers["Location"], headers=alice.headers)
    assert upserted.headers.get("ETag") == read.headers["ETag"]
