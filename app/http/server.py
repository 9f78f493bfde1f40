"""How uvicorn serves the app: its options in one place (`server_options`),
and the HTTP protocol that bounds what a request head may cost.

uvicorn's httptools protocol buffers a request head however big it grows
(four 64 MiB headers were read whole and answered 200) and however slowly
it comes (only idle keep-alive connections time out). `BoundedHttpTools`
is that protocol, unchanged for every request that behaves, plus two
limits on the head (request line and headers):

- size: more than MAX_HEAD_BYTES before the head is complete is a 431,
  and the connection is closed; the bytes read so far are all it held;
- time: a head not complete HEAD_TIMEOUT seconds after its first chunk (or
  after the connection opened) is a 408 (a connection that sent nothing is
  just closed).

Both answers are application/problem+json with a fresh request id, logged
at WARNING. It subclasses uvicorn's public protocol class (the `http`
option takes one) and only hooks the parser callbacks it documents; per
request it costs a few attribute updates, so hot reads stay as fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.http.observability import new_request_id
from app.http.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from app.settings import Settings

log = logging.getLogger(__name__)

# A head's request line and headers together. Browsers and proxies send a
# few KB (a Supabase JWT ~1 KB, cookies more); nginx's default is 8 KB per
# line, Node's 16 KB in all.
MAX_HEAD_BYTES = 32 * 1024
HEAD_TIMEOUT = 10.0
# How long a refused connection is kept half-open for the answer to be read.
LINGER = 2.0


def _refusal(status: HTTPStatus, detail: str) -> bytes:
    rid = new_request_id()
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + status.phrase.lower().replace(" ", "-"),
            "title": status.phrase,
            "status": status.value,
            "detail": detail,
            "request_id": rid,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {rid}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size and a time limit on request
    heads (see the module's docstring). The size limit is uvicorn's own
    `h11_max_incomplete_event_size` option, which bounds the same thing
    under h11; the time limit is `head_timeout`."""

    head_timeout = HEAD_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_limit: int = self.config.h11_max_incomplete_event_size or MAX_HEAD_BYTES
        self.head_bytes = 0
        self.in_head = False  # a request's first byte came, its head is not complete
        self.head_timer: asyncio.TimerHandle | None = None
        self.refused = False
        self.boundary_seen = False  # in the chunk being parsed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # what a refused client still sends is dropped (see refuse_head)
        self.boundary_seen = False
        super().data_received(data)
        if not self.in_head or self.transport.is_closing():
            return
        # A head still unfinished after a chunk: its clock starts now (a head
        # that comes whole in one chunk, as nearly all do, costs no timer).
        if self.head_timer is None:
            self.start_head_timer()
        # Counted after the parser saw the bytes, and only a chunk that holds
        # nothing but an unfinished head: one that completed a head or a
        # message (its body's bytes, a pipelined request's) is not held
        # against the next head, which may so exceed the limit by a chunk.
        if not self.boundary_seen:
            self.head_bytes += len(data)
            if self.head_bytes > self.head_limit:
                self.refuse_head(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"the request line and headers are larger than {self.head_limit} bytes",
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True

    def on_headers_complete(self) -> None:
        self.boundary_seen = True
        self.in_head = False
        self.head_bytes = 0
        self.stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.boundary_seen = True

    def start_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.head_timeout, self.head_timed_out)

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing() or self.refused:
            return
        if not self.in_head:
            if self.cycle is None:
                self.transport.close()  # a connection that never sent a request
            return
        self.refuse_head(
            HTTPStatus.REQUEST_TIMEOUT,
            f"the request line and headers did not arrive within {self.head_timeout:g} s",
        )

    def refuse_head(self, status: HTTPStatus, detail: str) -> None:
        """Answer, then close: first only our side (the client still
        sending its head would otherwise get a reset, which can drop the
        answer before it is read), dropping what still comes, and the whole
        connection when the client closes or LINGER seconds have passed."""
        log.warning("refused a request head from %s: %s", self.client, detail)
        self.stop_head_timer()
        self.refused = True
        self.transport.write(_refusal(status, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER, self.transport.close)
        else:
            self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config arguments that protect the service: the
    bounded protocol and its head size limit. (`creatoros serve` and the
    bench spread them into their options.)"""
    return {"http": BoundedHttpTools, "h11_max_incomplete_event_size": settings.max_header_bytes}
