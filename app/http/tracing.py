"""W3C Trace Context (`traceparent`) without any tracing library.

A caller that sends a valid `traceparent` gets its trace continued: the
request's server span has a new span id under the caller's trace id, both
go into every log record of the request (`trace_id`, `span_id`) and into
the transaction's `application_name`, and the answer carries the server
span's own `traceparent`, so the caller can link to it. A malformed header
is ignored, as the specification asks. Without one, nothing is made: no ids,
no header, no cost.

With OpenTelemetry on (`app.http.otel`), its middleware makes the server
span and `RequestContext` takes the ids from it instead (`current_trace`).
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from dataclasses import dataclass

TRACEPARENT_HEADER = b"traceparent"  # as ASGI spells header names

# version-traceid-parentid-flags, lower-case hex; a later version may append
# fields after another dash, version 00 may not (then exactly 55 characters).
_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16


@dataclass(frozen=True, slots=True)
class Trace:
    """The request's server span: its trace, its own id, the caller's flags."""

    trace_id: str
    span_id: str
    flags: str = "01"

    def traceparent(self) -> bytes:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}".encode()


trace_var: ContextVar[Trace | None] = ContextVar("trace", default=None)


def parse_traceparent(value: bytes) -> tuple[str, str, str] | None:
    """(trace id, parent span id, flags) of a valid header, else None."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest is not None):
        return None
    trace, parent = trace_id.decode(), parent_id.decode()
    if trace == _INVALID_TRACE_ID or parent == _INVALID_SPAN_ID:
        return None
    return trace, parent, flags.decode()


def new_span_id() -> str:
    while True:
        span_id = os.urandom(8).hex()
        if span_id != _INVALID_SPAN_ID:
            return span_id


def w3c_trace(header: bytes | None) -> Trace | None:
    """The server span continuing the caller's trace, or None without a
    valid `traceparent`."""
    if header is None:
        return None
    parsed = parse_traceparent(header)
    if parsed is None:
        return None
    trace_id, _parent, flags = parsed
    return Trace(trace_id, new_span_id(), flags)
