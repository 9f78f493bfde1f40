"""`Idempotency.created()`: every creating POST answers 201 with `Location`, and records
both under its `Idempotency-Key`, so a replay repeats them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import Response
from pydantic import BaseModel

from app.idempotency import HEADER, REPLAYED_HEADER, Idempotency
from tests.factories import Creator


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
