"""Swagger UI and ReDoc served from files shipped in the package.

Integrators often sit behind firewalls where a CDN link is a blank page, so
the pages load their scripts and styles from `/static/docs` (see VERSIONS.txt
there for where the files come from).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DOCS_ASSETS = "/static/docs"


def _request_schemas(document: dict[str, Any]) -> set[str]:
    """Names of the component schemas a request body uses, transitively."""
    schemas = document.get("components", {}).get("schemas", {})
    pending: list[Any] = [
        media.get("schema", {})
        for operations in document.get("paths", {}).values()
        for operation in operations.values()
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    names: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in names:
                    names.add(name)
                    pending.append(schemas.get(name, {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return names


def server_defaults_not_required(document: dict[str, Any]) -> dict[str, Any]:
    """A request field the server fills in when it is left out stays
    optional in generated clients: openapi-typescript makes a property with
    a `default` required. So request schemas say the default in words."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in _request_schemas(document):
        for prop in schemas[name].get("properties", {}).values():
            if "default" in prop:
                default = prop.pop("default")
                note = f"Default (set by the server when left out): `{json.dumps(default)}`."
                prop["description"] = (
                    f"{prop['description']} {note}" if "description" in prop else note
                )
    return document


# The bearer scheme's name in the document (`app.auth.get_principal`).
BEARER = "bearerAuth"
# The token is optional where the document does not say otherwise: public
# reads (published work, row level security decides) inherit this. An
# operation that needs a signed-in user says `[{bearerAuth: []}]` itself.
OPTIONAL_TOKEN: list[dict[str, list[str]]] = [{}, {BEARER: []}]

# Response headers, declared once as components and attached by status and
# method (`declare_response_headers`), so a new route documents them too.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the caller's own when it sent a sane one): "
        "quote it to operators. Also `instance` in problem documents.",
        "required": True,
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "A validator of the representation: send it back in "
        "`If-None-Match` to get a 304 while it has not changed (a 201's is its GET's: "
        "send it in `If-Match` to write again).",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "Who may cache the answer, and for how long.",
        "schema": {"type": "string"},
    },
    "Vary": {
        "description": "The request headers the answer depends on: a shared cache keys on them.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The URL of the created resource.",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Content-Revision": {
        "description": "The project revision this write made (absent when it changed nothing,"
        " and on an idempotent replay): `GET /v1/projects/{id}/revisions/{n}`.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": 'The bearer challenge (RFC 6750), with `error="invalid_token"` '
        "for a token that cannot be used.",
        "required": True,
        "schema": {"type": "string"},
    },
}
CACHED_READ_HEADERS = ("ETag", "Cache-Control", "Vary")
REVISION_HEADER = "Content-Revision"
# Operations whose 200 carries `Content-Revision` (the write's revision).
REVISION_OPERATIONS = ("putProjectTree",)


def headers_for(method: str, status: str, operation_id: str = "") -> tuple[str, ...]:
    """Which of `HEADERS` an answer carries, by its method and status (and,
    for the few headers of one operation, its id)."""
    names: tuple[str, ...] = ("X-Request-ID",)
    if status == "200" and operation_id in REVISION_OPERATIONS:
        names += (REVISION_HEADER,)
    if method == "get" and status in ("200", "304"):
        names += CACHED_READ_HEADERS
    if status == "201":
        names += ("Location", "ETag")
    if status in ("429", "503"):
        names += ("Retry-After",)
    if status == "401":
        names += ("WWW-Authenticate",)
    return names


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (method, operation)
        for operations in document.get("paths", {}).values()
        for method, operation in operations.items()
    ]


def declare_response_headers(document: dict[str, Any]) -> dict[str, Any]:
    """Every response of every operation gets the headers `headers_for`
    names, as references to `components/headers`."""
    used: set[str] = set()
    for method, operation in _operations(document):
        for status, response in operation.get("responses", {}).items():
            names = headers_for(method, status, operation.get("operationId", ""))
            headers = response.setdefault("headers", {})
            for name in names:
                headers[name] = {"$ref": f"#/components/headers/{name}"}
            used.update(names)
    components = document.setdefault("components", {})
    components["headers"] = {name: HEADERS[name] for name in HEADERS if name in used}
    return document


def declare_security(document: dict[str, Any]) -> dict[str, Any]:
    """The token is optional by default (`OPTIONAL_TOKEN`); operations that
    need one keep their `[{bearerAuth: []}]`, health probes their `[]`.

    A public read (`app.auth.PUBLIC_READ`: FastAPI writes the bearer and `{}`
    on it) inherits the default rather than repeating it: that is the same
    statement in OpenAPI, and generators that look at the operation alone
    (openapi-python-client) then let an unauthenticated client call it."""
    for _, operation in _operations(document):
        security = operation.get("security")
        if security and {} in security:
            del operation["security"]
    document["security"] = OPTIONAL_TOKEN
    return document


def stable_operation_id(route: APIRoute) -> str:
    """An operation's id when its route names none (every documented route
    does: `app.http.routes.operation`): from its method and path, never from
    the Python function's name, so a refactoring cannot rename a generated
    client's method. tests/test_docs.py pins the list of ids."""
    method = sorted(route.methods)[0].lower() if route.methods else "any"
    segments = [s.strip("{}") for s in route.path_format.split("/") if s]
    return "-".join([method, *segments])


def precise_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """The generated document made precise enough to generate clients from."""
    document = server_defaults_not_required(document)
    document = declare_response_headers(document)
    return declare_security(document)


def install_docs(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = precise_openapi(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — Swagger UI",
            oauth2_redirect_url=oauth2_redirect_url,
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            # No call to the public validator service from an offline page.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            with_google_fonts=False,
        )
