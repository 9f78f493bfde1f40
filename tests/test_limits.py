"""Sensible limits: request bodies (issue 20: before they are read or parsed) and CORS."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.idempotency import REPLAYED_HEADER
from app.main import CORS_SAFELISTED_RESPONSE_HEADERS, create_app
from app.settings import Settings
from tests.factories import Creator
from tests.helpers import client_for


async def test_a_body_over_max_body_bytes_is_413_before_it_is_read(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    big = {"slug": "big", "name": "x" * 4000, "project_type": "course"}
    async for client in client_for(create_app(small, database_url=api_url)):
        declared = await client.post("/v1/projects", headers=alice.headers, json=big)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"
        assert "MAX_BODY_BYTES" in declared.json()["detail"]

        async def chunks():  # no Content-Length: counted as it streams
            yield b'{"slug": "big", "project_type": "course", "name": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}'

        streamed = await client.post(
            "/v1/projects",
            headers={**alice.headers, "content-type": "application/json"},
            content=chunks(),
        )
        assert streamed.status_code == 413
        listed = await client.get("/v1/projects", headers=alice.headers)
        assert listed.json()["items"] == []
        ok = await client.post(
            "/v1/projects", headers=alice.headers,
            json={"slug": "small", "name": "ok", "project_type": "course"},
        )  # fmt: skip
        assert ok.status_code == 201


async def test_cors_allows_only_configured_origins(settings: Settings, api_url: str) -> None:
    configured = settings.model_copy(update={"cors_origins": ["https://app.creatoros.dev"]})
    async for client in client_for(create_app(configured, database_url=api_url)):
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = await client.options(
            "/v1/projects", headers={"Origin": "https://app.creatoros.dev", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.creatoros.dev"
        other = await client.options(
            "/v1/projects", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers


async def test_cors_lets_a_page_send_and_read_the_headers_the_api_uses(
    settings: Settings, api_url: str
) -> None:
    """A page on an allowed origin may send an idempotent write's key and
    its own request id (the preflight is refused otherwise), and its script
    may read the validator, where a created row lives, when to retry and
    the request id (the browser hides every other header)."""
    origin = "https://app.creatoros.dev"
    configured = settings.model_copy(update={"cors_origins": [origin]})
    async for client in client_for(create_app(configured, database_url=api_url)):
        asked = "authorization, content-type, idempotency-key, if-match, x-request-id"
        preflight = await client.options(
            "/v1/projects",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": asked,
            },
        )
        assert preflight.status_code == 200, preflight.text
        allowed = {
            h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
        }
        assert set(asked.split(", ")) <= allowed
        answered = await client.get("/healthz", headers={"Origin": origin})
        exposed = {
            h.strip().lower() for h in answered.headers["access-control-expose-headers"].split(",")
        }
        assert {"etag", "location", "retry-after", "x-request-id"} <= exposed
        # Every response header the service sends that browsers hide unless
        # told: the ones the document declares, and a replay's mark.
        declared = (await client.get("/openapi.json")).json()["components"]["headers"]
        readable = exposed | CORS_SAFELISTED_RESPONSE_HEADERS
        assert {h.lower() for h in [*declared, REPLAYED_HEADER]} <= readable


@pytest.mark.pure
def test_cors_origins_setting_is_comma_separated() -> None:
    settings = Settings(_env_file=None, cors_origins="https://a.dev, https://b.dev")  # type: ignore[call-arg]
    assert settings.cors_origins == ["https://a.dev", "https://b.dev"]


@dataclass
class Exchange:
    """A raw ASGI request: what was answered, and how many of the body's
    chunks the app asked for (a body refused before it is read: none)."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks_read: int = 0

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json"
        return dict(json.loads(self.body))


async def exchange(
    app: Any,
    path: str,
    chunks: list[bytes],
    headers: dict[str, str],
    *,
    declare_length: bool = True,
    gate: asyncio.Event | None = None,
) -> Exchange:
    """POST `chunks` to `app` as uvicorn would deliver them; with `gate`, the
    last chunk waits until it is set."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-type", b"application/json"))
    if declare_length:
        raw_headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
    else:
        raw_headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": raw_headers, "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }  # fmt: skip
    result = Exchange()

    async def receive() -> dict[str, Any]:
        index = result.chunks_read
        if index >= len(chunks):
            await asyncio.Event().wait()  # the client waits for its answer
        result.chunks_read += 1
        if gate is not None and index == len(chunks) - 1:
            await gate.wait()
        return {"type": "http.request", "body": chunks[index], "more_body": index < len(chunks) - 1}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    await app(scope, receive, send)
    return result


def pathological(size: int) -> list[bytes]:
    """`size` bytes of `[[],[],…]` (the hostile body of issue 20) in 64 KiB chunks."""
    raw = b"[" + b"[]," * (size // 3) + b"[]]"
    return [raw[i : i + 65536] for i in range(0, len(raw), 65536)]


async def test_an_anonymous_big_body_is_a_401_before_a_byte_of_it_is_read(
    settings: Settings, api_url: str
) -> None:
    """(issue 20, item 1): anonymous callers may send ANON_MAX_BODY_BYTES;
    more is refused before it is read (declared) or as soon as it passes the
    limit (chunked), never parsed; a bad token, before its body is read."""
    big = [b'{"slug": "s", "name": "' + b"x" * 100_000 + b'", "project_type": "course"}']
    app = create_app(settings, database_url=api_url)
    async with app.router.lifespan_context(app):
        declared = await exchange(app, "/v1/projects", big, {})
        assert declared.status == 401 and declared.chunks_read == 0
        assert "ANON_MAX_BODY_BYTES" in declared.problem()["detail"]
        assert declared.headers["www-authenticate"].startswith("Bearer")

        stream = [b'{"name": "', *[b"x" * 65536] * 240, b'"}']  # 15 MiB, chunked
        streamed = await exchange(app, "/v1/projects", stream, {}, declare_length=False)
        assert streamed.status == 401
        assert streamed.chunks_read * 65536 <= settings.anonymous_max_body_bytes + 65536

        forged = await exchange(app, "/v1/projects", big, {"Authorization": "Bearer not-a-jwt"})
        assert forged.status == 401 and forged.chunks_read == 0


async def test_a_signed_in_pathological_body_is_a_422_long_before_it_is_read_whole(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    """15 MiB of `[],` took the process from 117 to 846 MB: now its
    containers are counted as it streams and it is refused after ~1.4 MB,
    with a few MB allocated, whether its length is declared or not."""
    app = create_app(settings, database_url=api_url)
    chunks = pathological(15 << 20)
    async with app.router.lifespan_context(app):
        for declare_length in (True, False):
            tracemalloc.start()
            try:
                refused = await exchange(
                    app, "/v1/projects", chunks, alice.headers, declare_length=declare_length
                )
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert refused.status == 422
            (error,) = refused.problem()["errors"]
            assert "JSON arrays and objects" in error["msg"] and error["type"] == "json_invalid"
            assert refused.chunks_read < len(chunks) // 4
            assert peak < 16 << 20, peak


async def test_big_bodies_beyond_the_process_budget_are_503_with_retry_after(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    budget = settings.model_copy(update={"body_bytes_in_flight": 150_000})
    app = create_app(budget, database_url=api_url)
    name = b"x" * 100_000
    body = (
        b'{"slug": "s%d", "name": "n", "project_type": "course", "project_metadata": {"notes": "'
        + name
        + b'"}}'
    )
    async with app.router.lifespan_context(app):
        gate = asyncio.Event()
        first = asyncio.create_task(
            exchange(app, "/v1/projects", [body % 1, b" "], alice.headers, gate=gate)
        )
        await asyncio.sleep(0.05)  # the first one holds its 100 KB
        second = await exchange(app, "/v1/projects", [body % 2], alice.headers)
        assert second.status == 503 and second.chunks_read == 0
        assert second.headers["retry-after"] == "1"
        assert "BODY_BYTES_IN_FLIGHT" in second.problem()["detail"]
        small_body = b'{"slug": "s3", "name": "n", "project_type": "course"}'
        small = await exchange(app, "/v1/projects", [small_body], alice.headers)
        assert small.status == 201  # small bodies are not held to the budget
        gate.set()
        assert (await first).status == 201
        again = await exchange(app, "/v1/projects", [body % 2], alice.headers)
        assert again.status == 201, again.body
