"""The docs pages load everything from the service itself (no CDN)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.http.docs import stable_operation_id

ROOT = Path(__file__).resolve().parent.parent

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


async def test_openapi_document_passes_the_lint_rules_issue_9_named(
    client: httpx.AsyncClient,
) -> None:
    """Redocly's recommended rules that failed, and openapi-typescript's
    reading of `default` (a property with one comes out required)."""
    from app.http.docs import _request_schemas

    document = (await client.get("/openapi.json")).json()
    for path in ("/healthz", "/readyz"):
        assert document["paths"][path]["get"]["security"] == []
    assert document["servers"] and all(server["url"] for server in document["servers"])
    license_ = document["info"]["license"]
    assert license_["name"] and (license_.get("url") or license_.get("identifier"))
    frameworks = document["components"]["schemas"]["Project"]["properties"]["default_frameworks"]
    assert {"type": "array", "items": {"type": "string"}} in frameworks["anyOf"]

    request_schemas = _request_schemas(document)
    assert {"ProjectCreate", "TreeUpsert", "TreeNodeIn", "ContentCreate"} <= request_schemas
    schemas = document["components"]["schemas"]
    for name in request_schemas:
        for field, prop in schemas[name].get("properties", {}).items():
            assert "default" not in prop, f"{name}.{field}"
    status = schemas["ProjectCreate"]["properties"]["status"]
    assert "status" not in schemas["ProjectCreate"].get("required", [])
    assert "planning" in status["description"]


PUBLIC_READS = [
    "/v1/projects", "/v1/projects/{project_id}", "/v1/contents", "/v1/contents/{content_id}",
    "/v1/contents/{content_id}/minds", "/v1/contents/{content_id}/tags",
    "/v1/projects/{project_id}/tree", "/v1/contents/{content_id}/tree", "/v1/search",
]  # fmt: skip


def effective_security(document: dict[str, Any], operation: dict[str, Any]) -> Any:
    return operation.get("security", document.get("security"))


async def test_public_reads_say_the_token_is_optional(client: httpx.AsyncClient) -> None:
    """Optional where anon may call (the document's default, which public
    reads inherit: openapi-python-client then accepts its plain `Client`
    there), required everywhere else."""
    document = (await client.get("/openapi.json")).json()
    assert document["security"] == [{}, {"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            security = effective_security(document, operation)
            if method == "get" and path in PUBLIC_READS:
                assert security == [{}, {"bearerAuth": []}], path
            elif path in ("/healthz", "/readyz"):
                assert security == [], path
            else:
                assert security == [{"bearerAuth": []}], (method, path)


async def test_response_headers_are_declared_by_status_and_method(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    headers = document["components"]["headers"]
    assert headers["X-Request-ID"]["required"] is True
    assert set(headers) == {"X-Request-ID", "ETag", "Cache-Control", "Vary", "Location",
                            "Retry-After", "WWW-Authenticate", "Content-Revision"}  # fmt: skip
    seen: set[tuple[str, str]] = set()
    for operations in document["paths"].values():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                declared = {name for name, ref in response["headers"].items()
                            if ref == {"$ref": f"#/components/headers/{name}"}}  # fmt: skip
                assert "X-Request-ID" in declared
                if method == "get" and status in ("200", "304"):
                    assert {"ETag", "Cache-Control", "Vary"} <= declared
                if status == "201":
                    assert "Location" in declared
                if status in ("429", "503"):
                    assert "Retry-After" in declared
                if status == "401":
                    assert "WWW-Authenticate" in declared
                seen.add((method, status))
    assert {("get", "200"), ("get", "304"), ("post", "201"), ("put", "201"), ("get", "401"),
            ("post", "503")} <= seen  # fmt: skip


async def test_responses_use_the_requests_enums(client: httpx.AsyncClient) -> None:
    """One definition each: what a response says is the same enum a request takes."""
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]

    def refs(schema: str, field: str) -> set[str]:
        prop = schemas[schema]["properties"][field]
        options = prop.get("anyOf", [prop])
        return {o["$ref"].rsplit("/", 1)[1] for o in options if "$ref" in o}

    for schema, field, enum in [
        ("Project", "project_type", "ProjectType"), ("Project", "status", "ProjectStatus"),
        ("ProjectCreate", "status", "ProjectStatus"),
        ("Content", "content_type", "ContentType"), ("Content", "status", "ContentStatus"),
        ("ContentCreate", "content_type", "ContentType"),
        ("ContentUpdate", "status", "ContentStatus"),
        ("TreeNode", "content_type", "ContentType"), ("TreeNode", "status", "ContentStatus"),
        ("TreeNodeIn", "content_type", "ContentType"),
        ("SearchHit", "content_type", "ContentType"), ("SearchHit", "status", "ContentStatus"),
        ("ContentMind", "role", "MindRole"), ("ContentMindPut", "role", "MindRole"),
        ("Framework", "framework_type", "FrameworkType"),
        ("Audience", "technical_level", "TechnicalLevel"),
        ("MarketResearch", "research_type", "ResearchType"),
    ]:  # fmt: skip
        assert refs(schema, field) == {enum}, (schema, field)


async def test_fidelity_is_a_number_with_its_range_both_ways(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for schema in ("Content", "TreeNode", "ContentCreate", "ContentUpdate", "TreeNodeIn"):
        prop = schemas[schema]["properties"]["fidelity_score"]
        number = [o for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]
        assert [(o["type"], o["minimum"], o["maximum"]) for o in number] == [("number", 0, 1)]


# The operationIds generated clients name their methods after: renaming one
# breaks every integrator's code, so the list is pinned here. A new route
# names its own (`app.http.routes.operation`); one that does not gets
# `app.http.docs.stable_operation_id` (method and path), never a function name.
OPERATION_IDS = {
    ("get", "/healthz"): "healthz",
    ("get", "/readyz"): "readyz",
    ("get", "/v1/me"): "getMe",
    ("get", "/v1/me/persona-grants"): "listPersonaGrants",
    ("put", "/v1/me/persona-grants/{mind_id}"): "grantPersona",
    ("delete", "/v1/me/persona-grants/{mind_id}"): "revokePersonaGrant",
    ("post", "/v1/projects"): "createProject",
    ("get", "/v1/projects"): "listProjects",
    ("put", "/v1/projects/by-slug/{slug}"): "upsertProjectBySlug",
    ("get", "/v1/projects/{project_id}"): "getProject",
    ("patch", "/v1/projects/{project_id}"): "updateProject",
    ("delete", "/v1/projects/{project_id}"): "deleteProject",
    ("get", "/v1/projects/{project_id}/revisions"): "listProjectRevisions",
    ("get", "/v1/projects/{project_id}/revisions/{number}"): "getProjectRevision",
    ("get", "/v1/projects/{project_id}/diff"): "diffProjectRevisions",
    ("post", "/v1/projects/{project_id}/revisions/{number}/restore"): "restoreProjectRevision",
    ("post", "/v1/contents"): "createContent",
    ("get", "/v1/contents"): "listContents",
    ("get", "/v1/contents/{content_id}"): "getContent",
    ("patch", "/v1/contents/{content_id}"): "updateContent",
    ("delete", "/v1/contents/{content_id}"): "deleteContent",
    ("post", "/v1/contents/{content_id}/restore"): "restoreContent",
    ("get", "/v1/contents/{content_id}/minds"): "listContentMinds",
    ("put", "/v1/contents/{content_id}/minds/{mind_id}"): "putContentMind",
    ("delete", "/v1/contents/{content_id}/minds/{mind_id}"): "deleteContentMind",
    ("get", "/v1/contents/{content_id}/tags"): "listContentTags",
    ("put", "/v1/contents/{content_id}/tags"): "putContentTags",
    ("post", "/v1/frameworks"): "createFramework",
    ("get", "/v1/frameworks"): "listFrameworks",
    ("get", "/v1/frameworks/{framework_id}"): "getFramework",
    ("patch", "/v1/frameworks/{framework_id}"): "updateFramework",
    ("delete", "/v1/frameworks/{framework_id}"): "deleteFramework",
    ("post", "/v1/audiences"): "createAudience",
    ("get", "/v1/audiences"): "listAudiences",
    ("get", "/v1/audiences/{audience_id}"): "getAudience",
    ("patch", "/v1/audiences/{audience_id}"): "updateAudience",
    ("delete", "/v1/audiences/{audience_id}"): "deleteAudience",
    ("post", "/v1/projects/{project_id}/market-research"): "createMarketResearch",
    ("get", "/v1/projects/{project_id}/market-research"): "listMarketResearch",
    ("get", "/v1/market-research/{research_id}"): "getMarketResearch",
    ("patch", "/v1/market-research/{research_id}"): "updateMarketResearch",
    ("delete", "/v1/market-research/{research_id}"): "deleteMarketResearch",
    ("get", "/v1/projects/{project_id}/tree"): "getProjectTree",
    ("put", "/v1/projects/{project_id}/tree"): "putProjectTree",
    ("get", "/v1/contents/{content_id}/tree"): "getContentTree",
    ("post", "/v1/contents/{content_id}/move"): "moveContent",
    ("get", "/v1/search"): "searchContents",
}


async def test_operation_ids_are_pinned_and_unique(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    ids = {
        (method, path): operation["operationId"]
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert ids == OPERATION_IDS
    assert len(set(ids.values())) == len(ids)


@pytest.mark.pure
def test_a_route_without_an_id_gets_one_from_its_method_and_path() -> None:
    app = FastAPI(generate_unique_id_function=stable_operation_id)

    @app.get("/v1/things/{thing_id}/parts")
    async def whatever_the_function_is_called(thing_id: int) -> None: ...

    operation = app.openapi()["paths"]["/v1/things/{thing_id}/parts"]["get"]
    assert operation["operationId"] == "get-v1-things-thing_id-parts"


async def test_info_names_the_license_and_a_contact(client: httpx.AsyncClient) -> None:
    info = (await client.get("/openapi.json")).json()["info"]
    assert info["license"]["identifier"] == "LicenseRef-CreatorOS-Proprietary"
    assert "LICENSE" in info["license"]["name"] and info["contact"]["name"] == "CreatorOS"
    license_file = (ROOT / "LICENSE").read_text()
    assert "CreatorOS" in license_file and "All rights reserved" in license_file
    for pyproject in (ROOT / "pyproject.toml", ROOT / "client" / "pyproject.toml"):
        project = tomllib.loads(pyproject.read_text())["project"]
        assert project["license"] == "LicenseRef-CreatorOS-Proprietary", pyproject
        assert project["license-files"] == ["LICENSE"], pyproject
        # Each distribution ships its own copy (a wheel holds no file from outside it).
        assert (pyproject.parent / "LICENSE").read_text() == license_file
