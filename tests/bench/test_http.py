"""bench/http.py, the lean client of the timed requests: what it reads must
be what the server sent (a misread body would make the bench time less work)."""

from __future__ import annotations

import asyncio
import gzip

import orjson
import pytest

from bench.http import LeanClient

pytestmark = pytest.mark.pure

BODY = orjson.dumps({"nodes": [{"slug": f"n{i}", "title": "ação " * 50} for i in range(200)]})


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Three answers on one keep-alive connection: plain, gzip, chunked."""
    answers = [
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
        % (len(BODY), BODY),
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
        % (len(gzip.compress(BODY)), gzip.compress(BODY)),
        b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BODY[:1000], BODY[1000:]))
        + b"0\r\n\r\n",
    ]
    for answer in answers:
        head = await reader.readuntil(b"\r\n\r\n")
        length = [
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.startswith(b"content-length")
        ]
        if length:
            await reader.readexactly(length[0])
        writer.write(answer)
        await writer.drain()
    writer.close()


async def test_plain_gzip_and_chunked_answers_on_one_connection() -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with LeanClient(f"http://127.0.0.1:{port}", {"x-test": "1"}, 1) as client:
            plain = await client.get("/a", params={"q": "ação de IA"})
            zipped = await client.get("/b")
            chunked = await client.put("/c", content=b'{"a": 1}')
        assert [plain.status_code, zipped.status_code, chunked.status_code] == [200, 200, 201]
        assert plain.content == zipped.content == chunked.content == BODY
        assert plain.json() == orjson.loads(BODY)
        assert zipped.headers["content-encoding"] == "gzip"
    finally:
        server.close()
        await server.wait_closed()


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    """uvicorn closes a keep-alive connection idle for 5 s: the next request
    goes out again on a new connection instead of failing."""
    served = 0

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await reader.readuntil(b"\r\n\r\n")
        served += 1
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # without `connection: close`, as an idle timeout does

    server = await asyncio.start_server(once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with LeanClient(f"http://127.0.0.1:{port}", {}, 1) as client:
            assert (await client.get("/1")).content == b"ok"
            await asyncio.sleep(0.05)
            assert (await client.get("/2")).content == b"ok"
        assert served == 2
    finally:
        server.close()
        await server.wait_closed()
