"""W3C trace context and the optional OpenTelemetry traces (issue 21)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.auth import ANONYMOUS
from app.db.tenancy import switch_args
from app.http.logs import JsonFormatter
from app.http.tracing import Trace, parse_traceparent, trace_var
from app.main import create_app
from app.settings import Settings
from tests.factories import Creator, new_project
from tests.helpers import client_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
REPO = Path(__file__).resolve().parents[1]

MALFORMED = [
    "",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # invalid trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # invalid parent id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  # version 00 has 4 fields
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
]


@pytest.mark.pure
def test_a_valid_traceparent_is_read() -> None:
    assert parse_traceparent(TRACEPARENT.encode()) == (TRACE_ID, PARENT_ID, "01")
    # A later version may carry more fields; what it shares with 00 is read.
    later = f"01-{TRACE_ID}-{PARENT_ID}-00-whatever"
    assert parse_traceparent(later.encode()) == (TRACE_ID, PARENT_ID, "00")


@pytest.mark.pure
@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_traceparent_is_ignored(value: str) -> None:
    assert parse_traceparent(value.encode()) is None


@pytest.mark.pure
@given(st.binary(max_size=120))
def test_any_header_bytes_parse_or_are_ignored(value: bytes) -> None:
    parsed = parse_traceparent(value)
    if parsed is not None:
        trace_id, parent_id, flags = parsed
        assert len(trace_id) == 32 and len(parent_id) == 16 and len(flags) == 2
        assert int(trace_id, 16) and int(parent_id, 16)


@pytest.mark.pure
def test_the_trace_id_goes_into_application_name_after_the_whole_request_id() -> None:
    token = trace_var.set(Trace(TRACE_ID, "1" * 16))
    try:
        name = switch_args(ANONYMOUS, "r" * 32)[3]
    finally:
        trace_var.reset(token)
    assert name == f"creatoros {'r' * 32} {TRACE_ID}"
    assert switch_args(ANONYMOUS, "r" * 32)[3] == f"creatoros {'r' * 32}"


@pytest.mark.pure
def test_json_logs_carry_the_trace_of_the_request_in_progress() -> None:
    record = logging.LogRecord("app.x", logging.INFO, __file__, 1, "hello", None, None)
    token = trace_var.set(Trace(TRACE_ID, "2" * 16))
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        trace_var.reset(token)
    assert entry["trace_id"] == TRACE_ID
    assert entry["span_id"] == "2" * 16
    assert "trace_id" not in json.loads(JsonFormatter().format(record))


async def test_a_traced_request_answers_with_its_server_span_and_logs_it(
    client: httpx.AsyncClient, alice: Creator, caplog: pytest.LogCaptureFixture
) -> None:
    project = await new_project(client, alice)
    headers = {**alice.headers, "traceparent": TRACEPARENT, "X-Request-ID": "req-42"}
    with caplog.at_level(logging.INFO, logger="creatoros.access"):
        answer = await client.get(f"/v1/projects/{project}/tree", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "req-42"
    version, trace_id, span_id, flags = answer.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != PARENT_ID and len(span_id) == 16
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-42"]
    assert [(r.trace_id, r.span_id) for r in logged] == [(TRACE_ID, span_id)]  # type: ignore[attr-defined]


async def test_a_malformed_traceparent_starts_nothing(client: httpx.AsyncClient) -> None:
    for value in MALFORMED:
        answer = await client.get("/healthz", headers={"traceparent": value})
        assert answer.status_code == 200
        assert "traceparent" not in answer.headers


# What the `otel` extra brings (FastAPI itself imports opentelemetry's API, a
# dependency of its own, which records nothing without an SDK).
OTEL_MODULES = (
    "app.http.otel",
    "opentelemetry.sdk",
    "opentelemetry.instrumentation",
    "opentelemetry.exporter",
)


@pytest.mark.pure
def test_without_the_endpoint_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from app.main import create_app\n"
        "from app.settings import Settings\n"
        "create_app(Settings(_env_file=None, jwt_secret='x' * 40))\n"
        "print(sorted(m for m in sys.modules if m.startswith(WANTED)))\n"
    ).replace("WANTED", repr(OTEL_MODULES))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- with the `otel` extra --------------------------------------------------------------------


@pytest.fixture
async def traced(
    settings: Settings, api_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    pytest.importorskip("opentelemetry.sdk", reason="the `otel` extra is not installed")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from app.http.otel import Tracing

    settings.otel_exporter_otlp_endpoint = "http://127.0.0.1:4318"
    exporter = InMemorySpanExporter()
    app = create_app(settings, database_url=api_url, tracing=Tracing(settings, exporter))
    async for http in client_for(app):
        yield http, exporter


async def test_with_opentelemetry_requests_and_their_sql_make_spans(
    traced: tuple[httpx.AsyncClient, object], alice: Creator
) -> None:
    http, exporter = traced
    project = await new_project(http, alice)
    headers = {**alice.headers, "traceparent": TRACEPARENT}
    answer = await http.get(f"/v1/projects/{project}/tree", headers=headers)
    assert answer.status_code == 200
    _, trace_id, span_id, _ = answer.headers["traceparent"].split("-")
    assert trace_id == TRACE_ID
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]  # type: ignore[attr-defined]
    server = [s for s in spans if s.name == "GET /v1/projects/{project_id}/tree"]
    assert len(server) == 1, sorted({(s.name, str(s.kind)) for s in exporter.get_finished_spans()})  # type: ignore[attr-defined]
    assert format(server[0].context.span_id, "016x") == span_id  # the one the answer named
    assert server[0].parent.span_id == int(PARENT_ID, 16)
    statements = [
        s.attributes.get("db.statement") or s.attributes.get("db.query.text") for s in spans
    ]
    sql = [text for text in statements if text]
    assert any("set_config" in text for text in sql), sql
    assert any("FROM contents" in text for text in sql), sql  # the tree read itself
    # The caller's claims stay in the service.
    assert not any(str(alice.user_id) in text for text in sql), sql


@pytest.mark.pure
def test_an_endpoint_without_the_extra_serves_untraced_and_says_why(tmp_path: Path) -> None:
    script = (
        "import logging, sys\n"
        "logging.basicConfig()\n"
        "sys.modules['opentelemetry.sdk'] = None  # as if the extra were not installed\n"
        "from app.main import create_app\n"
        "from app.settings import Settings\n"
        "app = create_app(Settings(_env_file=None, jwt_secret='x' * 40,\n"
        "                          otel_exporter_otlp_endpoint='http://127.0.0.1:4318'))\n"
        "print(app.tracing)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"
    assert "pip install 'creatoros-content-api[otel]'" in done.stderr
