"""Request heads are bounded in size and time (issue 20, item 2): uvicorn's
httptools protocol read four 64 MiB headers whole and answered 200, and
never timed out a slow head. Through a real uvicorn on a socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from app.http.server import MAX_HEAD_BYTES, BoundedHttpTools, server_options
from app.settings import Settings

pytestmark = pytest.mark.pure


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers 200 with the size of the body it read."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    answer = str(size).encode()
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


class QuickHeads(BoundedHttpTools):
    head_timeout = 0.3


@contextlib.asynccontextmanager
async def serving(**overrides: Any) -> AsyncIterator[int]:
    """A uvicorn with the service's options (and `overrides`) on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {**server_options(Settings(_env_file=None)), **overrides}  # type: ignore[call-arg]
    config = uvicorn.Config(
        echo, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False,
        **options,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one response (read until its length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    body = await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split()[1]), headers, body


async def send_all(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write in 64 KiB pieces, as a client would; the server may hang up first."""
    with contextlib.suppress(ConnectionError):
        for start in range(0, len(data), 65536):
            writer.write(data[start : start + 65536])
            await writer.drain()


async def test_a_head_over_the_limit_is_a_431_problem_and_the_connection_closes() -> None:
    big = b"".join(b"X-Big-%d: " % i + b"a" * (1 << 20) + b"\r\n" for i in range(4))
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await send_all(writer, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        status, headers, body = await answer(reader)
        assert status == 431
        assert headers["content-type"] == "application/problem+json"
        problem = json.loads(body)
        assert problem["status"] == 431 and str(MAX_HEAD_BYTES) in problem["detail"]
        assert headers["x-request-id"] == problem["request_id"]
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
        writer.close()


async def test_heads_within_the_limit_and_bodies_of_any_size_are_served() -> None:
    cookie = b"Cookie: " + b"c" * (MAX_HEAD_BYTES - 1024) + b"\r\n"
    body = b"x" * (5 << 20)  # a body is not a head: only MAX_BODY_BYTES bounds it
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):  # keep-alive: the second head is counted afresh
            await send_all(writer, b"GET / HTTP/1.1\r\nHost: x\r\n" + cookie + b"\r\n")
            assert (await answer(reader))[0] == 200
            request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
            await send_all(writer, request + body)
            status, _, size = await answer(reader)
            assert status == 200 and int(size) == len(body)
        writer.close()


async def test_a_slow_head_is_a_408_and_a_silent_connection_is_closed() -> None:
    async with serving(http=QuickHeads) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # …and nothing more
        status, headers, body = await answer(reader)
        assert status == 408 and json.loads(body)["status"] == 408
        assert headers["content-type"] == "application/problem+json"
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

        silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(silent_reader.read(), 5) == b""
        silent.close()

        # A head that completes in time is served, however slowly its body comes.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
        await asyncio.sleep(0.5)
        writer.write(b"ok")
        assert (await answer(reader))[0] == 200
        writer.close()


async def test_a_pipelined_head_is_not_charged_for_the_body_before_it() -> None:
    body = b"x" * (MAX_HEAD_BYTES + 1024)
    first = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(first + body + b"GET / HTTP/1.1\r\nHost: x\r\n")  # one write
        await asyncio.sleep(0.1)
        writer.write(b"\r\n")
        assert (await answer(reader))[0] == 200
        assert (await answer(reader))[0] == 200
        writer.close()


def test_serve_uses_the_bounded_protocol() -> None:
    options = server_options(Settings(_env_file=None))  # type: ignore[call-arg]
    assert options["http"] is BoundedHttpTools
    assert options["h11_max_incomplete_event_size"] == MAX_HEAD_BYTES
