"""A lean HTTP/1.1 keep-alive client for the timed requests.

Why not httpx there: at concurrency 1 on this 2-core machine the load
generator's CPU is part of every latency it measures, and httpx spends
~0.8 ms per request of its own (the bench's CPU table: "HTTP client"), more
than the whole floor of a content get. The floor's client is asyncpg, whose
protocol is written in Cython; this is the HTTP counterpart: one request
per connection at a time, `Content-Length` or chunked bodies, gzip decoded
as a real client would, with ISA-L (the app's own gzip library: 0.7 ms for
a tree with bodies, where zlib takes 1.75 ms). It speaks only what the bench
sends (GET, and PUT with a body) to the service it started, for the checks,
the timed phases and the workers phase; the growth phase keeps httpx.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from isal import isal_zlib


@dataclass
class LeanResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[LeanResponse, bool]:
        """Send one request, read its answer; also whether the connection may be reused."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("content-encoding") == "gzip":
            body = isal_zlib.decompress(body, 16 + isal_zlib.MAX_WBITS)
        keep = headers.get("connection", "").lower() != "close"
        return LeanResponse(status, headers, body), keep

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()  # the empty trailer
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()

    def close(self) -> None:
        self.writer.close()


class LeanClient:
    """`get`/`put` like httpx.AsyncClient's, for the bench's own requests."""

    def __init__(self, base_url: str, headers: dict[str, str], max_connections: int) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.fixed += f"host: {parts.netloc}\r\n"
        self.slots = asyncio.Semaphore(max_connections)
        self.idle: list[_Connection] = []

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()

    async def get(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> LeanResponse:
        return await self.request("GET", path, params=params, headers=headers)

    async def put(
        self, path: str, *, content: bytes, headers: dict[str, str] | None = None
    ) -> LeanResponse:
        return await self.request("PUT", path, content=content, headers=headers)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> LeanResponse:
        target = f"{path}?{urlencode(params)}" if params else path
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        length = f"content-length: {len(content)}\r\n" if content or method != "GET" else ""
        request = f"{method} {target} HTTP/1.1\r\n{self.fixed}{extra}{length}\r\n".encode()
        async with self.slots:
            reused = bool(self.idle)
            conn = self.idle.pop() if reused else await self._connect()
            try:
                response, keep = await conn.exchange(request + content)
            except (asyncio.IncompleteReadError, ConnectionError):
                conn.close()
                if not reused:
                    raise
                # The server closed the idle connection (uvicorn's keep-alive
                # timeout) before it read this request: send it again, on a
                # new one, as httpx does. GET and PUT are safe to repeat.
                conn = await self._connect()
                response, keep = await conn.exchange(request + content)
            except BaseException:
                conn.close()
                raise
            if keep:
                self.idle.append(conn)
            else:
                conn.close()
            return response

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)
