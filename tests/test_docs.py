"""The docs pages load everything from the service itself (no CDN)."""

from __future__ import annotations

import re

import httpx
import pytest

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


def referenced_urls(html: str) -> list[str]:
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")

    urls = referenced_urls(response.text)
    assert urls, "the page must load its script"
    external = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert external == [], f"{page} loads from the internet: {external}"
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0, url


async def test_docs_scripts_are_the_real_bundles(client: httpx.AsyncClient) -> None:
    swagger = await client.get("/static/docs/swagger-ui-bundle.js")
    assert swagger.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "SwaggerUIBundle" in swagger.text
    redoc = await client.get("/static/docs/redoc.standalone.js")
    assert "Redoc" in redoc.text
    assert len(redoc.content) > 500_000


async def test_openapi_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert {"/healthz", "/readyz"} <= set(document["paths"])
