"""`Idempotency-Key` over a real server, through the client."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenancy import fetchval, tenant_transaction
from app.idempotency import _LOCK
from creatoros_client import ApiError, CreatorOS
from tests.client.conftest import LiveServer
from tests.factories import Creator

BODY = {"slug": "keyed", "name": "Keyed", "project_type": "course"}


async def test_replay_reuse_and_in_use(
    live: LiveServer, alice: Creator, engine: AsyncEngine
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=False)
    first = api.projects.create(BODY, idempotency_key="k-1")
    assert api.projects.create(BODY, idempotency_key="k-1") == first  # replayed
    assert len(api.projects.list().items) == 1

    with pytest.raises(ApiError) as reused:
        api.projects.create({**BODY, "slug": "other"}, idempotency_key="k-1")
    assert reused.value.status == 422
    assert reused.value.problem.type.endswith("idempotency-key-reused")

    # A request with this key still running (its transaction holds the key).
    async with tenant_transaction(engine, alice.principal, read_only=False) as running:
        assert await fetchval(running, _LOCK, "k-2")
        with pytest.raises(ApiError) as busy:
            api.projects.create({**BODY, "slug": "second"}, idempotency_key="k-2")
        assert busy.value.status == 409
    assert api.projects.create({**BODY, "slug": "second"}, idempotency_key="k-2").slug == "second"
    assert len(api.projects.list().items) == 2
