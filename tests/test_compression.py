"""The cache of gzipped answers, without HTTP (the endpoints' side is in
tests/trees/test_trees.py)."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from app.http.compression import Compression, GzipCache, accepts_gzip, gzip_bytes

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
