"""Hundreds of interleaved requests from several tenants through a pool of two
connections: not one row of one tenant in another's answers."""

from __future__ import annotations

import asyncio
import random

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.factories import Creator, provision
from tests.helpers import client_for

TENANTS = 3
ROUNDS = 40  # 40 rounds x 3 tenants x 3 requests = 360 requests


async def test_interleaved_tenants_never_see_each_other(
    settings: Settings, api_url: str, engine: AsyncEngine
) -> None:
    creators = [await provision(engine, f"tenant-{i}") for i in range(TENANTS)]
    app = create_app(settings.model_copy(update={"db_pool_size": 2}), database_url=api_url)
    rng = random.Random(7)

    async def round_of(client: httpx.AsyncClient, who: Creator, n: int) -> list[str]:
        problems: list[str] = []
        await asyncio.sleep(rng.random() / 1000)
        created = await client.post(
            "/v1/projects", headers=who.headers,
            json={"slug": f"p-{n}", "name": f"{who.slug} {n}", "project_type": "course"},
        )  # fmt: skip
        if created.status_code != 201:
            problems.append(f"create {created.status_code} {created.text}")
        me = await client.get("/v1/me", headers=who.headers)
        if me.json().get("mind_id") != str(who.mind_id):
            problems.append(f"{who.slug} was told it is {me.json()}")
        listed = await client.get("/v1/projects", headers=who.headers, params={"limit": 200})
        for project in listed.json()["items"]:
            if project["creator_mind_id"] != str(who.mind_id):
                problems.append(f"{who.slug} saw {project['name']}")
        return problems

    async for client in client_for(app):
        work = [round_of(client, who, n) for n in range(ROUNDS) for who in creators]
        rng.shuffle(work)
        results = await asyncio.gather(*work)

        assert [p for problems in results for p in problems] == []
        for who in creators:
            listed = await client.get("/v1/projects", headers=who.headers, params={"limit": 200})
            names = {p["name"] for p in listed.json()["items"]}
            assert names == {f"{who.slug} {n}" for n in range(ROUNDS)}
