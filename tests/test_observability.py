"""Request ids, the access log and /metrics, through the app."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from app.db.tenancy import tenant_transaction
from app.http.logs import JsonFormatter
from app.http.observability import MAX_REQUEST_ID_LENGTH, RequestContext, accepted_request_id
from app.main import create_app
from app.settings import Settings
from tests.factories import Creator, new_project
from tests.helpers import assert_problem, client_for, gauge, superuser_dsn


async def test_metrics_are_labelled_by_route_template_not_by_path(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    missing = uuid.uuid4()
    assert (await client.get(f"/v1/contents/{missing}", headers=alice.headers)).status_code == 404
    assert (await client.get("/v1/projects", headers=alice.headers)).status_code == 200
    assert (await client.get(f"/no/such/{missing}")).status_code == 404

    metrics = await client.get("/metrics")  # no token needed
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert (
        'creatoros_http_requests_total{method="GET",route="/v1/contents/{content_id}",status="404"}'
        in text
    )
    assert 'route="/v1/projects",status="200"' in text
    assert 'route="unmatched",status="404"' in text
    assert "creatoros_http_request_duration_seconds_bucket" in text
    assert str(missing) not in text
    for name in ("db_pool_size", "db_pool_in_use", "db_pool_waiting"):
        assert f"creatoros_{name} " in text
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_tree_upsert_node_counts_are_counted(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    def count(text: str) -> float:
        line = next(x for x in text.splitlines() if x.startswith("creatoros_tree_upsert_nodes_sum"))
        return float(line.split()[-1])

    before = count((await client.get("/metrics")).text)
    project = await new_project(client, alice, "m", name="M")
    nodes = [
        {"slug": "o", "title": "O", "content_type": "course_outline",
         "children": [{"slug": "l", "title": "L", "content_type": "course_lesson"}]}
    ]  # fmt: skip
    put = await client.put(
        f"/v1/projects/{project}/tree", headers=alice.headers, json={"nodes": nodes}
    )
    assert put.status_code == 200, put.text
    assert count((await client.get("/metrics")).text) == before + 2


async def test_request_id_is_taken_when_sane_and_echoed_on_problems(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    ok = await client.get("/v1/me", headers={**alice.headers, "X-Request-ID": "abc-123.x"})
    assert ok.headers["x-request-id"] == "abc-123.x"

    problem = await client.get(
        f"/v1/contents/{uuid.uuid4()}", headers={**alice.headers, "X-Request-ID": "rid-404"}
    )
    assert problem.status_code == 404
    assert problem.headers["x-request-id"] == "rid-404"
    assert problem.json()["request_id"] == "rid-404"

    unauthorized = await client.get("/v1/me", headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401
    generated = unauthorized.headers["x-request-id"]
    assert len(generated) == 32 and unauthorized.json()["request_id"] == generated

    for bad in ("has space", "x" * 54, "new\\nline", "é"):
        got = accepted_request_id(bad.encode())
        assert got != bad and len(got) == 32


async def test_access_log_line_as_json(
    client: httpx.AsyncClient, alice: Creator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="creatoros.access")
    response = await client.get(
        f"/v1/contents/{uuid.uuid4()}", headers={**alice.headers, "X-Request-ID": "log-me"}
    )
    assert response.status_code == 404
    (record,) = [r for r in caplog.records if r.name == "creatoros.access"]
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "log-me"
    assert entry["method"] == "GET"
    assert entry["route"] == "/v1/contents/{content_id}"
    assert entry["status"] == 404
    assert entry["user_id"] == str(alice.user_id)
    assert entry["level"] == "INFO" and "time" in entry and entry["duration_ms"] > 0
    assert alice.token not in line


async def test_pool_gauges_follow_the_connections_requests_hold(
    client: httpx.AsyncClient, alice: Creator, engine: AsyncEngine, settings: Settings
) -> None:
    project = await new_project(client, alice, "g", name="G")
    idle = (await client.get("/metrics")).text
    assert gauge(idle, "db_pool_size") == settings.db_pool_size
    assert gauge(idle, "db_pool_in_use") == 0  # every request gave its connection back

    # A PATCH blocked on the project's row lock holds one pooled connection.
    async with tenant_transaction(engine, alice.principal, read_only=False) as holder:
        await holder.execute(
            text("SELECT 1 FROM content_projects WHERE id = :id FOR UPDATE"), {"id": project}
        )
        patch = asyncio.create_task(
            client.patch(f"/v1/projects/{project}", headers=alice.headers, json={"name": "H"})
        )
        for _ in range(200):
            if gauge((await client.get("/metrics")).text, "db_pool_in_use") == 1:
                break
            await asyncio.sleep(0.01)
        assert gauge((await client.get("/metrics")).text, "db_pool_in_use") == 1
        assert not patch.done()
    assert (await patch).status_code == 200
    assert gauge((await client.get("/metrics")).text, "db_pool_in_use") == 0


async def test_metrics_behind_a_token_when_metrics_token_is_set(
    settings: Settings, api_url: str
) -> None:
    """METRICS_TOKEN: a scraper presents it as a bearer token; anyone else
    (no token, a user's JWT, a wrong one) gets a 401 problem, no counters."""
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-me-0123456789")})
    async for client in client_for(create_app(guarded, database_url=api_url)):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me"}):
            refused = assert_problem(await client.get("/metrics", headers=headers), 401)
            assert "creatoros_" not in json.dumps(refused)
        allowed = await client.get(
            "/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}
        )
        assert allowed.status_code == 200
        assert "creatoros_http_requests_total" in allowed.text


async def _application_name_while_blocked(
    client: httpx.AsyncClient, engine: AsyncEngine, database: str, alice: Creator, rid: str
) -> tuple[str, str]:
    """(the X-Request-ID answered, the `application_name` PostgreSQL showed
    for the request while it waited on a row lock)."""
    project = await new_project(client, alice, f"an-{len(rid)}", name="N")
    watcher = await asyncpg.connect(superuser_dsn(database))
    try:
        async with tenant_transaction(engine, alice.principal, read_only=False) as holder:
            await holder.execute(
                text("SELECT 1 FROM content_projects WHERE id = :id FOR UPDATE"), {"id": project}
            )
            patch = asyncio.create_task(
                client.patch(
                    f"/v1/projects/{project}",
                    headers={**alice.headers, "X-Request-ID": rid},
                    json={"name": "M"},
                )
            )
            seen = None
            for _ in range(400):
                seen = await watcher.fetchval(
                    "SELECT application_name FROM pg_stat_activity"
                    " WHERE application_name LIKE 'creatoros %' AND wait_event_type = 'Lock'"
                )
                if seen is not None:
                    break
                await asyncio.sleep(0.01)
        answer = await patch
    finally:
        await watcher.close()
    assert answer.status_code == 200 and seen is not None
    return answer.headers["x-request-id"], seen


async def test_the_request_id_is_whole_in_pg_stat_activity(
    client: httpx.AsyncClient, engine: AsyncEngine, database: str, alice: Creator
) -> None:
    """PostgreSQL keeps 63 bytes of `application_name`: every id the service
    answers with appears whole there, the longest it accepts included; a
    longer one is replaced (issue 20, item 6)."""
    longest = "L" + "x" * (MAX_REQUEST_ID_LENGTH - 1)
    answered, seen = await _application_name_while_blocked(client, engine, database, alice, longest)
    assert answered == longest and seen == f"creatoros {longest}"
    for rid in ("T" + "y" * 63, "U" + "z" * MAX_REQUEST_ID_LENGTH):
        answered, seen = await _application_name_while_blocked(client, engine, database, alice, rid)
        assert answered != rid and len(answered) == 32  # a fresh id, kept whole
        assert seen == f"creatoros {answered}"


@pytest.mark.pure
async def test_a_5xx_is_logged_at_error_with_its_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """(issue 20, item 9): an alert on ERROR sees every 5xx, and the line
    names the request."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        status = int(scope["path"].strip("/"))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    caplog.set_level(logging.INFO, logger="creatoros.access")
    transport = httpx.ASGITransport(app=RequestContext(answer, dict))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for status in (200, 404, 500, 503):
            await client.get(f"/{status}", headers={"X-Request-ID": f"rid-{status}"})
    levels = {r.__dict__["status"]: r.levelno for r in caplog.records}
    assert levels == {200: logging.INFO, 404: logging.INFO, 500: logging.ERROR, 503: logging.ERROR}
    assert {r.__dict__["request_id"] for r in caplog.records if r.levelno == logging.ERROR} == {
        "rid-500",
        "rid-503",
    }
