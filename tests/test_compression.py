"""The cache of gzipped answers, and the gzip middleware on a bare app (the
endpoints' side is in tests/trees/test_trees.py). No database."""

from __future__ import annotations

import asyncio
import gzip
import threading
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.http import compression as compression_module
from app.http.compression import (
    THREAD_MINIMUM_BYTES,
    Compression,
    GzipCache,
    IsalGZipMiddleware,
    IsalGzipResponder,
    accepts_gzip,
    gzip_bytes,
)

pytestmark = pytest.mark.pure


def test_cache_keeps_the_most_recently_used_within_its_bytes() -> None:
    cache = GzipCache(max_bytes=10)
    cache.put('"a"', b"aaaa")
    cache.put('"b"', b"bbbb")
    assert cache.get('"a"') == b"aaaa"  # now the most recent
    cache.put('"c"', b"cccc")  # 12 bytes: the least recent ("b") goes
    assert cache.get('"b"') is None
    assert (cache.get('"a"'), cache.get('"c"')) == (b"aaaa", b"cccc")
    assert (len(cache), cache.size) == (2, 8)


def test_cache_never_holds_an_entry_bigger_than_itself() -> None:
    cache = GzipCache(max_bytes=10)
    cache.put('"a"', b"aaaa")
    cache.put('"big"', b"x" * 11)
    assert cache.get('"big"') is None
    assert cache.get('"a"') == b"aaaa"
    cache.put('"a"', b"other")  # an ETag names one body: the first entry stays
    assert (cache.get('"a"'), cache.size) == (b"aaaa", 4)


def test_compression_stores_what_it_compressed_once() -> None:
    compression = Compression(minimum_size=16, cache_bytes=1 << 20)
    body = b'{"nodes":[' + b'"lesson",' * 40_000 + b'"end"]}'  # above the thread size

    async def twice() -> tuple[bytes, bytes]:
        return await compression.gzip('"v1"', body), await compression.gzip('"v1"', body)

    first, second = asyncio.run(twice())
    assert gzip.decompress(first) == body
    assert second is first  # the stored bytes, not a second compression
    assert compression.cache is not None and len(compression.cache) == 1


def test_compression_without_a_cache_still_compresses() -> None:
    compression = Compression(minimum_size=16, cache_bytes=0)
    assert compression.cache is None
    compressed = asyncio.run(compression.gzip('"v1"', b"x" * 100))
    assert gzip.decompress(compressed) == b"x" * 100


def test_gzip_bytes_is_ordinary_gzip_and_accept_encoding_is_read_as_starlette_does() -> None:
    assert gzip.decompress(gzip_bytes(b"ol\xc3\xa1" * 1000)) == b"ol\xc3\xa1" * 1000
    assert accepts_gzip([(b"accept-encoding", b"br, gzip;q=0.8")])
    assert not accepts_gzip([(b"accept-encoding", b"identity")])
    assert not accepts_gzip([(b"host", b"test")])


MINIMUM = 1000
SMALL = b"x" * (MINIMUM - 1)
BIG = b'{"body":"' + b"li\xc3\xa7\xc3\xa3o " * 400 + b'"}'
HUGE = b"0123456789abcdef" * (THREAD_MINIMUM_BYTES // 16 + 1)
CHUNKS = [b"first chunk " * 100, b"second chunk " * 100, b"last"]


def _app() -> Starlette:
    async def answer(request: Request) -> Response:
        size = request.path_params["size"]
        body = {"small": SMALL, "big": BIG, "huge": HUGE}[size]
        return Response(body, media_type="application/json")

    async def streamed(_: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in CHUNKS:
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain")

    async def png(_: Request) -> Response:
        return Response(BIG, media_type="image/png")

    app = Starlette(
        routes=[Route("/stream", streamed), Route("/png", png), Route("/{size}", answer)]
    )
    app.add_middleware(IsalGZipMiddleware, minimum_size=MINIMUM)
    return app


async def _get(path: str, accept: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers={"Accept-Encoding": accept})


@pytest.mark.parametrize("path, body", [("/big", BIG), ("/huge", HUGE)])
async def test_the_middleware_gzips_big_answers_for_clients_that_accept_it(
    path: str, body: bytes
) -> None:
    answer = await _get(path, "gzip, deflate")
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert answer.content == body  # httpx inflated the gzip stream
    assert int(answer.headers["content-length"]) < len(body)


async def test_the_middleware_leaves_small_excluded_and_unaccepted_answers_alone() -> None:
    small = await _get("/small", "gzip")
    assert "content-encoding" not in small.headers and small.content == SMALL
    png = await _get("/png", "gzip")
    assert "content-encoding" not in png.headers and png.content == BIG
    identity = await _get("/big", "identity")
    assert "content-encoding" not in identity.headers and identity.content == BIG
    assert identity.headers["vary"] == "Accept-Encoding"  # the answer depends on it


async def test_a_streamed_answer_is_one_gzip_stream_flushed_per_chunk() -> None:
    streamed = await _get("/stream", "gzip")
    assert streamed.headers["content-encoding"] == "gzip"
    assert "content-length" not in streamed.headers
    assert streamed.content == b"".join(CHUNKS)


def test_each_chunk_inflates_as_soon_as_it_is_sent() -> None:
    """A sync flush after every chunk but the last: a client can read what
    arrived so far (a stream of events, a long list) before the end."""
    responder = IsalGzipResponder(_app(), MINIMUM)
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for chunk in CHUNKS[:-1]:
        assert inflate.decompress(responder.compress(chunk, True)) == chunk
    assert inflate.decompress(responder.compress(CHUNKS[-1], False)) == CHUNKS[-1]
    assert inflate.eof


async def test_bodies_from_the_thread_size_on_are_compressed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: dict[int, bool] = {}
    compress = IsalGzipResponder.compress

    def spy(self: IsalGzipResponder, body: bytes, more_body: bool) -> bytes:
        threads[len(body)] = threading.current_thread() is threading.main_thread()
        return compress(self, body, more_body)

    monkeypatch.setattr(compression_module.IsalGzipResponder, "compress", spy)
    assert (await _get("/big", "gzip")).content == BIG
    assert (await _get("/huge", "gzip")).content == HUGE
    assert threads == {len(BIG): True, len(HUGE): False}
