"""OpenTelemetry traces: on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
with the `otel` extra installed (`pip install 'creatoros-content-api[otel]'`).

Nothing of OpenTelemetry is imported otherwise (`app.main` imports this
module only when the endpoint is set), so a service without it pays nothing.

When on:
- the ASGI middleware makes each request's server span (outermost, so the
  span is current for everything inside; it reads the caller's
  `traceparent`), and `RequestContext` takes the request's ids from it
  (`current_trace`) for the logs, `application_name` and the answer's
  `traceparent`, and names the span by its route template (`name_span`);
- asyncpg is instrumented: one span per statement, both the tenant door's
  `$n` SQL on the driver and what SQLAlchemy prepares on it (so there is no
  SQLAlchemy instrumentation on top: it would trace each of those twice, and
  its 0.66 release refuses SQLAlchemy 2.1 anyway);
- the tenant switch's literals (the caller's verified claims) are replaced by
  `?` in the spans' statement text (`RedactSwitch`): traces leave the
  service, claims do not;
- spans go to the collector in batches over OTLP/HTTP.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from starlette.types import ASGIApp, Scope

from app.http.tracing import Trace
from app.settings import Settings

# Endpoints probed all the time: no trace of their own.
UNTRACED_URLS = "/healthz,/readyz,/metrics"
# String literals (the switch's `E'…'` and any other) in a statement's text.
_LITERAL = re.compile(r"E?'(?:[^']|'')*'")
_STATEMENT_ATTRIBUTES = ("db.statement", "db.query.text")


class RedactSwitch(SpanProcessor):
    """Replace the string literals of the tenant switch (role, claims,
    request id) in a database span's statement with `?`, before any exporter
    sees the span. The instrumentations set the statement when they start
    the span, so `on_start` finds it there."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        for key in _STATEMENT_ATTRIBUTES:
            statement = attributes.get(key)
            if isinstance(statement, str) and "set_config" in statement:
                span.set_attribute(key, _LITERAL.sub("?", statement))

    def on_end(self, span: ReadableSpan) -> None:
        return None


class Tracing:
    """This process's tracer provider and what it instruments."""

    def __init__(self, settings: Settings, exporter: SpanExporter | None = None) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.otel_service_name})
        )
        self.provider.add_span_processor(RedactSwitch())
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = (settings.otel_exporter_otlp_endpoint or "").rstrip("/")
            self.provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
            )
        else:  # tests: every span at once
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self._asyncpg = AsyncPGInstrumentor()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The server-span middleware around `app` (the whole stack)."""
        return OpenTelemetryMiddleware(
            app,
            excluded_urls=UNTRACED_URLS,
            default_span_details=_method_only,
            tracer_provider=self.provider,
            exclude_spans=["receive", "send"],
        )

    def instrument(self) -> None:
        """asyncpg, process-wide (the driver's methods are wrapped): every
        engine's statements, the replicas' included."""
        self._asyncpg.instrument(tracer_provider=self.provider)

    def shutdown(self) -> None:
        self._asyncpg.uninstrument()
        self.provider.shutdown()


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    # The route template is known only after routing: `name_span` renames it.
    return str(scope.get("method", "HTTP")), {}


def current_trace(_traceparent: bytes | None) -> Trace | None:
    """The server span OpenTelemetry's middleware made (it parsed the
    caller's `traceparent` already), as the request's trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return Trace(
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
        format(context.trace_flags, "02x"),
    )


def name_span(method: str, route: str) -> None:
    """Name the server span `GET /v1/projects/{project_id}` (never the raw path)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
