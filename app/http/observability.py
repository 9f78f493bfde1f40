"""Seeing the service run: request ids, the access log, Prometheus metrics.

One pure-ASGI middleware (`RequestContext`), outermost of all (it wraps even
Starlette's error middleware, so a 500 carries its request id too), does the
per-request work once:

- the request id: the caller's `X-Request-ID` when it is a sane token, else a
  new one; published in a context variable (problem documents and the tenant
  transaction's `application_name` read it there) and echoed on the response;
- the trace: a valid W3C `traceparent` is continued (`app.http.tracing`), its
  ids published in a context variable (logs, `application_name`) and the
  server span's `traceparent` sent back;
- a write's consistency token (`X-Consistency-Token`, the primary's WAL
  position after its COMMIT, left on the request's state by the session)
  goes out with the answer;
- after the response: one access-log line (method, route template, status,
  duration, user id, request id) and the Prometheus counter and histogram,
  labelled by the route *template* (`/v1/contents/{content_id}`), never the
  raw path, so ids cannot blow up the label set.

Metrics live in prometheus-client's default registry. Under `creatoros serve
--workers N` each worker is a process: the parent then sets
PROMETHEUS_MULTIPROC_DIR, and `/metrics` aggregates every worker's files.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.tracing import TRACEPARENT_HEADER, Trace, trace_var, w3c_trace

access_log = logging.getLogger("creatoros.access")

REQUEST_ID_HEADER = b"x-request-id"  # as ASGI spells header names
# A write's answer: the primary's WAL position after its COMMIT; the client
# sends it back on its reads (see app.db.replicas). The session leaves it on
# the request's state under CONSISTENCY_STATE.
CONSISTENCY_HEADER = b"x-consistency-token"
CONSISTENCY_STATE = "consistency_token"
# The tenant transaction names its database session `creatoros <request id>`
# (`application_name`), which PostgreSQL cuts at 63 bytes (NAMEDATALEN - 1)
# without a word: an id longer than what is left after the prefix would lose
# its end there, and `pg_stat_activity` could no longer be tied to the log.
# So a caller's id is taken only when it fits whole: 53 characters, which holds
# a UUID (36), a W3C trace id (32) or an AWS request id; a longer one is
# replaced by a fresh id, as any id that is not a sane token is.
APPLICATION_NAME_PREFIX = "creatoros "
APPLICATION_NAME_BYTES = 63
MAX_REQUEST_ID_LENGTH = APPLICATION_NAME_BYTES - len(APPLICATION_NAME_PREFIX)
# Printable, URL- and log-safe ASCII (one byte a character).
_SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:+/=@-]{{0,{MAX_REQUEST_ID_LENGTH - 1}}}")
UNMATCHED_ROUTE = "unmatched"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "creatoros_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "creatoros_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Pool gauges follow the pool's own events, so they also add up across
# worker processes (multiprocess mode "livesum").
POOL_SIZE = Gauge(
    "creatoros_db_pool_size",
    "Connections the pool may hold (DB_POOL_SIZE per process).",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "creatoros_db_pool_in_use",
    "Connections checked out by requests right now.",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "creatoros_db_pool_waiting",
    "Requests waiting for a pooled connection right now.",
    multiprocess_mode="livesum",
)
TREE_UPSERT_NODES = Histogram(
    "creatoros_tree_upsert_nodes",
    "Nodes per tree upsert (PUT /v1/projects/{id}/tree).",
    buckets=(1, 10, 50, 133, 500, 1000, 2500, 5000),
)
SEARCH_INDEXED = Counter(
    "creatoros_search_indexed_total",
    "Contents whose search indexing a tree write deferred, indexed since by this"
    " process's search indexer.",
)
DB_READS = Counter(
    "creatoros_db_reads_total",
    "Read-only requests by where they ran: `replica` or `primary` (counted only"
    " when DATABASE_READ_URL names replicas).",
    ["target"],
)
REPLICA_FALLBACKS = Counter(
    "creatoros_db_replica_fallbacks_total",
    "Reads sent to the primary although replicas are configured, by reason: `behind`"
    " (no replica had replayed the caller's consistency token yet) or `down` (a"
    " replica could not be reached; it is skipped for a few seconds).",
    ["reason"],
)
GZIP_CACHE = Counter(
    "creatoros_gzip_cache_lookups_total",
    "Gzipped answers (trees) looked up by ETag, by result: hit, or miss (compressed"
    " now). Many misses for the same trees: GZIP_CACHE_BYTES is too small.",
    ["result"],
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: bytes | None) -> str:
    """The caller's id when it is a sane token; a fresh one otherwise (never
    echo arbitrary bytes into headers, logs or the database)."""
    if value:
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            return new_request_id()
        if _SANE_REQUEST_ID.fullmatch(text):
            return text
    return new_request_id()


def operation_paths(openapi: dict[str, Any]) -> dict[str, str]:
    """operationId → path template, from the app's own OpenAPI document: the
    one place that knows each route's full path whatever the FastAPI version
    (recent ones keep an included router's routes relative to its prefix)."""
    return {
        operation["operationId"]: path
        for path, item in openapi.get("paths", {}).items()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


class RequestContext:
    """Request id, access log and metrics for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        openapi: Callable[[], dict[str, Any]],
        traces: Callable[[bytes | None], Trace | None] = w3c_trace,
        name_span: Callable[[str, str], None] | None = None,
    ) -> None:
        self.app = app
        self._openapi = openapi
        # The request's trace from its `traceparent` (OpenTelemetry's span
        # when on, which `name_span` then names by the route template).
        self._traces = traces
        self._name_span = name_span
        self._paths: dict[str, str] | None = None
        # prometheus-client's `labels()` takes a lock and builds a key each
        # time: keep the children per label tuple.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = traceparent = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                request_id = value
            elif name == TRACEPARENT_HEADER:
                traceparent = value
        rid = accepted_request_id(request_id)
        token = request_id_var.set(rid)
        # No traceparent and no OpenTelemetry: nothing to do, not even a call.
        trace = (
            self._traces(traceparent)
            if traceparent is not None or self._name_span is not None
            else None
        )
        trace_token = trace_var.set(trace) if trace is not None else None
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        rid_header = (REQUEST_ID_HEADER, rid.encode())
        trace_header = (TRACEPARENT_HEADER, trace.traceparent()) if trace is not None else None
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), rid_header]
                if trace_header is not None:
                    headers.append(trace_header)
                consistency = state.get(CONSISTENCY_STATE)
                if consistency is not None:
                    headers.append((CONSISTENCY_HEADER, consistency.encode()))
                message["headers"] = headers
                if self._name_span is not None:  # before the answer ends the span
                    self._name_span(scope["method"], self.route_template(scope))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, rid, trace)
            request_id_var.reset(token)
            if trace_token is not None:
                trace_var.reset(trace_token)

    def route_template(self, scope: Scope) -> str:
        """The matched route's path template (the router puts the route on
        the scope), never the raw path."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        operation_id = getattr(route, "operation_id", None) or getattr(route, "unique_id", None)
        if operation_id is not None:
            if self._paths is None:
                with warnings.catch_warnings():
                    # Schema problems (duplicate operation ids…) are for
                    # /openapi.json to report, not for the first request.
                    warnings.simplefilter("ignore")
                    self._paths = operation_paths(self._openapi())
            if operation_id in self._paths:
                return self._paths[operation_id]
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else UNMATCHED_ROUTE

    def _record(
        self, scope: Scope, status: int, seconds: float, rid: str, trace: Trace | None
    ) -> None:
        method = scope["method"]
        route = self.route_template(scope)
        key = (method, route, str(status))
        children = self._children.get(key)
        if children is None:
            children = (REQUESTS.labels(*key), REQUEST_SECONDS.labels(*key))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        # A 5xx is the service's failure (or its database's): ERROR, so that an
        # alert on the level sees it, with the request id to find the rest.
        level = logging.ERROR if status >= 500 else logging.INFO
        if access_log.isEnabledFor(level):
            user_id = scope["state"].get("user_id")
            access_log.log(
                level,
                "%s %s %d %.1fms rid=%s user=%s",
                method,
                route,
                status,
                seconds * 1000,
                rid,
                user_id or "-",
                extra={
                    "request_id": rid,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "user_id": user_id,
                    "trace_id": trace.trace_id if trace is not None else None,
                    "span_id": trace.span_id if trace is not None else None,
                },
            )


def forget_dead_workers() -> None:
    """Multiprocess mode: drop the live gauges (pool size, in use, waiting)
    left by worker processes that are gone. uvicorn replaces a worker that
    died, but a crashed worker never cleaned up its gauge files, so /metrics
    went on adding its pool to the living ones'. Each new worker runs this
    before it starts counting, and every scrape before it reads the files
    (a scrape between a worker's death and its successor's start counted the
    dead one's pool); counters and histograms of the dead stay (what they
    counted did happen)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    from prometheus_client import multiprocess

    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _process_alive(pid):
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    # A killed worker stays a zombie until uvicorn's supervisor reaps it, and
    # a zombie still takes signal 0: its state in /proc says it is gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:  # reaped meanwhile; or no procfs: trust kill
        return not Path("/proc/self").exists()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def metrics_registry() -> CollectorRegistry:
    if not _MULTIPROCESS:
        return REGISTRY
    from prometheus_client import multiprocess

    forget_dead_workers()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def metrics_response() -> Response:
    """Prometheus text format (app.health serves it at /metrics)."""
    return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)


def track_pool(engine: Any, size: int) -> None:
    """Pool size, and connections in use read from the pool itself on each
    checkout and checkin. Counting the events instead drifts: SQLAlchemy
    also fires `checkin` for a connection whose checkout failed half-way
    (a connect hook that lost the database), which was never counted out."""
    from sqlalchemy import event

    POOL_SIZE.inc(size)
    pool = engine.sync_engine.pool

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(*_: Any) -> None:
        POOL_IN_USE.set(pool.checkedout())

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(*_: Any) -> None:
        # Fired just before the connection goes back: the pool still counts it.
        POOL_IN_USE.set(pool.checkedout() - 1)


def untrack_pool(size: int) -> None:
    POOL_SIZE.dec(size)
