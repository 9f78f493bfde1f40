"""The application factory: routers, middleware, error handlers, lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from app import __version__
from app.audiences.router import router as audiences_router
from app.auth import TokenVerifier, signed_in
from app.contents.router import router as contents_router
from app.db.engine import (
    api_database_url,
    create_engine,
    create_replicas,
    guard_login_role,
    resolve_database_url,
)
from app.frameworks.router import router as frameworks_router
from app.health import metrics
from app.health import router as health_router
from app.http.caching import CachePolicy, HeadAsGet
from app.http.compression import Compression, IsalGZipMiddleware
from app.http.docs import HEADERS as RESPONSE_HEADERS
from app.http.docs import install_docs, stable_operation_id
from app.http.limits import BodyGuard
from app.http.observability import RequestContext, track_pool, untrack_pool
from app.http.problems import install_problem_handlers
from app.idempotency import REPLAYED_HEADER, install_idempotency
from app.me.router import router as me_router
from app.projects.router import router as projects_router
from app.research.router import router as research_router
from app.revisions.router import router as revisions_router
from app.search.indexer import SearchIndexer
from app.search.router import router as search_router
from app.settings import Settings, get_settings
from app.trees.router import router as trees_router

if TYPE_CHECKING:
    from app.http.otel import Tracing  # the `otel` extra: imported only when on

API_PREFIX = "/v1"
log = logging.getLogger(__name__)

DESCRIPTION = """\
The system of record for what CreatorOS generates: content projects (courses,
books, series), their content trees, frameworks, audiences and market research.

PostgreSQL row level security decides who sees what: the service verifies the
caller's JWT and runs every request in one transaction under the caller's role
and claims. Errors are `application/problem+json` (RFC 9457).
"""


class App(FastAPI):
    """FastAPI with `RequestContext` outside Starlette's own error middleware,
    so that even an unexpected 500 carries its request id and is counted;
    with OpenTelemetry on, its server-span middleware outside that; HEAD
    served as GET inside it."""

    tracing: Tracing | None = None

    def build_middleware_stack(self) -> ASGIApp:
        # HEAD is the GET without its body, on every path (app.http.caching).
        inner = HeadAsGet(super().build_middleware_stack())
        if self.tracing is None:
            return RequestContext(inner, self.openapi)
        from app.http.otel import current_trace, name_span

        stack = RequestContext(
            inner,
            self.openapi,
            traces=current_trace,
            name_span=name_span,
        )
        return self.tracing.wrap(stack)


def _tracing(settings: Settings) -> Tracing | None:
    """OpenTelemetry, imported only when its endpoint is set. Without the
    `otel` extra the service still starts, untraced, and says why."""
    try:
        from app.http.otel import Tracing
    except ImportError as exc:
        log.error(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed (%s): "
            "serving without traces; install the extra: pip install 'creatoros-content-api[otel]'",
            exc,
        )
        return None
    return Tracing(settings)


# The resources' routers, under API_PREFIX.
API_ROUTERS = (
    me_router,
    projects_router,
    contents_router,
    frameworks_router,
    audiences_router,
    research_router,
    trees_router,
    revisions_router,
    search_router,
)

# The document's tags, in the order the docs pages show them.
OPENAPI_TAGS = [
    {"name": "projects", "description": "Content projects: courses, books, series."},
    {
        "name": "contents",
        "description": "The contents of a project, one at a time: "
        "lessons, modules, chapters, posts; their minds and tags.",
    },
    {
        "name": "trees",
        "description": "A project's or a content's whole tree in one "
        "request (read with an ETag, written in one PUT).",
    },
    {
        "name": "revisions",
        "description": "A project's history: every write that changed its nodes, "
        "the tree as it was, diffs, and restore.",
    },
    {"name": "search", "description": "Full-text search in Portuguese over contents."},
    {
        "name": "frameworks",
        "description": "Pedagogical, structural and marketing "
        "frameworks a project's contents follow.",
    },
    {"name": "audiences", "description": "Who a project is for."},
    {"name": "market research", "description": "Reports on a project's market."},
    {"name": "me", "description": "The caller: their mind, and which personas they may voice."},
    {"name": "health", "description": "Liveness and readiness, for load balancers."},
]

# What a page on an allowed origin may send besides the CORS-safelisted
# headers: its token, JSON, conditional reads and writes, a retry-safe
# write's key, its own request id, read-your-writes and trace context.
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-None-Match",
    "If-Match",
    "Idempotency-Key",
    "X-Request-ID",
    "X-Consistency-Token",
    "traceparent",
]
# What the page's script may read of an answer: every response header the
# document declares (the validator, where a created row lives, when to
# retry, the request id to quote in a report, the bearer challenge), and
# those it does not (a replayed write's mark, the consistency token, the
# server span), less the ones browsers always show (CORS-safelisted).
# Derived, so a header declared tomorrow is readable by pages too.
CORS_SAFELISTED_RESPONSE_HEADERS = frozenset(
    {"cache-control", "content-language", "content-length", "content-type", "expires",
     "last-modified", "pragma"}
)  # fmt: skip
CORS_EXPOSED_HEADERS = [
    name
    for name in [*RESPONSE_HEADERS, REPLAYED_HEADER, "X-Consistency-Token", "traceparent"]
    if name.lower() not in CORS_SAFELISTED_RESPONSE_HEADERS
]


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    """Build the app. `database_url` overrides the settings (tests pass the
    per-test database); otherwise it is resolved at startup, starting the
    embedded PostgreSQL when `DATABASE_URL` is unset. Traces are exported
    when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (tests pass their own `tracing`)."""
    settings = settings or get_settings()
    if tracing is None and settings.otel_exporter_otlp_endpoint:
        tracing = _tracing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url
        if url is None:
            admin_url = await asyncio.to_thread(resolve_database_url, settings)
            url = api_database_url(admin_url, settings)
        app.state.engine = create_engine(url, settings)
        app.state.token_verifier = TokenVerifier(settings)
        guard_login_role(app.state.engine, settings)
        track_pool(app.state.engine, settings.db_pool_size)
        # Read replicas, when DATABASE_READ_URL names some (app.db.replicas).
        app.state.replicas = replicas = create_replicas(settings)
        if tracing is not None:
            tracing.instrument()
        app.state.search_indexer = SearchIndexer(
            app.state.engine,
            interval=settings.search_index_interval,
            batch_size=settings.search_index_batch,
        )
        # What start-up built (modules, routes, models) lives as long as the
        # process: keep it out of every later full garbage collection, which
        # would otherwise walk it all (a ~60 ms pause every few hundred
        # tree reads, the p99.9 of the benchmark). That includes the OpenAPI
        # document (the access log and metrics read route templates from
        # it), which the first request would otherwise build after the freeze:
        # ~16,000 objects every later full collection walked. (Schema
        # warnings are for /openapi.json to report, not for start-up.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            app.openapi()
        gc.collect()
        gc.freeze()
        app.state.search_indexer.start()
        try:
            yield
        finally:
            # uvicorn runs this after in-flight requests finished (or
            # SHUTDOWN_TIMEOUT passed): only then is the pool closed.
            await app.state.search_indexer.stop()
            await app.state.engine.dispose()
            if replicas is not None:
                await replicas.dispose()
            untrack_pool(settings.db_pool_size)
            if tracing is not None:
                tracing.shutdown()

    app = App(
        title="CreatorOS Content API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Paths are relative to wherever this document is served.
        servers=[{"url": "/", "description": "This service"}],
        # The repository's LICENSE: all rights reserved by CreatorOS (no
        # licence has been granted to anyone else; SPDX has no id for that).
        license_info={
            "name": "Proprietary: all rights reserved by CreatorOS (see LICENSE)",
            "identifier": "LicenseRef-CreatorOS-Proprietary",
        },
        contact={"name": "CreatorOS"},
        openapi_tags=OPENAPI_TAGS,
        generate_unique_id_function=stable_operation_id,
    )
    app.state.settings = settings
    app.state.cache_policy = CachePolicy(
        max_age=settings.cache_max_age,
        s_maxage=settings.cache_s_maxage,
        stale_while_revalidate=settings.cache_stale_while_revalidate,
    )
    app.state.replicas = None
    if tracing is not None:
        app.tracing = tracing
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    # Big answers (trees, list pages with bodies) travel compressed when the
    # client accepts it; a single content (a few KB) does not: compressing
    # it costs more CPU than the bytes it saves are worth. ISA-L level 1
    # (app.http.compression): 670 KB of Markdown in ~1.6 ms, where zlib level 1
    # took ~7 ms and level 9 ~35 ms; CPU is latency here.
    # GZIP_MINIMUM_BYTES=0 leaves compression to a proxy in front.
    # Trees (ETaggedResponse) compress themselves, through a cache by ETag.
    if settings.gzip_minimum_bytes:
        app.add_middleware(IsalGZipMiddleware, minimum_size=settings.gzip_minimum_bytes)
        app.state.compression = Compression(settings.gzip_minimum_bytes, settings.gzip_cache_bytes)
    # Outermost: a body is refused (too big for its caller, over the
    # process's budget, too many JSON containers for its size) before
    # anything reads it whole or parses it, and a bad token before its body.
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.max_body_bytes,
        anonymous_max_bytes=settings.anonymous_max_body_bytes,
        bytes_in_flight=settings.body_bytes_in_flight,
        signed_in=signed_in,
    )
    install_problem_handlers(app)
    install_idempotency(app)
    install_docs(app)
    app.include_router(health_router)
    app.add_route("/metrics", metrics, include_in_schema=False)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app
