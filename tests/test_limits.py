"""Sensible limits: request bodies and CORS."""

from __future__ import annotations

import pytest

from app.main import create_app
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


@pytest.mark.pure
def test_cors_origins_setting_is_comma_separated() -> None:
    settings = Settings(_env_file=None, cors_origins="https://a.dev, https://b.dev")  # type: ignore[call-arg]
    assert settings.cors_origins == ["https://a.dev", "https://b.dev"]
