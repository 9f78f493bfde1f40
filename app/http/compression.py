"""gzip for big answers (trees, list pages with bodies), with ISA-L.

Starlette's gzip responder (header handling, `Vary`, small answers left
alone; big bodies are compressed off the event loop) with ISA-L's deflate
(`isal`, Intel's storage acceleration library) instead of zlib: on the
bench's Markdown, ISA-L level 1 compresses 670 KB in 1.6 ms against zlib
level 1's 7.0 ms, and smaller (267 KB vs 272 KB). The output is ordinary
gzip: every client inflates it as before.

Trees answer with an ETag, a hash of their exact bytes, so their compressed
form can be kept by it (`GzipCache`): a frontend reading the same courses
again gets the stored bytes, and compressing (~1.9 ms of CPU for a 750 KB
tree with bodies, a third of what the request costs the service) happens
once per version of a tree instead of once per read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

import anyio.to_thread
from isal import isal_zlib
from starlette.middleware.gzip import IdentityResponder
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.etags import none_match
from app.http.observability import GZIP_CACHE

_CACHE_HITS = GZIP_CACHE.labels("hit")
_CACHE_MISSES = GZIP_CACHE.labels("miss")

# ISA-L's levels are 0-3; 1 is the knee (level 3 costs 1.5x for 6% fewer bytes).
COMPRESS_LEVEL = 1
_GZIP_WBITS = 16 + isal_zlib.MAX_WBITS  # a gzip header and trailer, not raw deflate
# As Starlette's middleware: bigger bodies are compressed in a worker thread,
# so the event loop serves other requests meanwhile.
THREAD_MINIMUM_BYTES = 128 * 1024


def accepts_gzip(raw_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request's `Accept-Encoding` names gzip (as Starlette's
    middleware decides it)."""
    for name, value in raw_headers:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False


def gzip_bytes(body: bytes) -> bytes:
    """A whole body as one gzip member."""
    compressor = isal_zlib.compressobj(COMPRESS_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
    return compressor.compress(body) + compressor.flush()


class GzipCache:
    """Compressed bodies by the ETag of their uncompressed bytes, least
    recently used first out, at most `max_bytes` of them in all.

    Keyed by a hash of the answer's exact bytes, an entry can only be handed
    to a caller whose answer is those very bytes, so a tenant never receives
    what another tenant's answer compressed to; a tree that changed has a
    new ETag, and its old entry ages out. Per process, like the pool."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, etag: str) -> bytes | None:
        found = self._entries.get(etag)
        if found is not None:
            self._entries.move_to_end(etag)
        return found

    def put(self, etag: str, compressed: bytes) -> None:
        if len(compressed) > self.max_bytes or etag in self._entries:
            return
        self._entries[etag] = compressed
        self.size += len(compressed)
        while self.size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size -= len(evicted)


class Compression:
    """The service's answer compression settings (`app.state.compression`):
    the size from which answers are gzipped, and the cache of compressed
    ETag-tagged answers (None when `GZIP_CACHE_BYTES=0`)."""

    def __init__(self, minimum_size: int, cache_bytes: int) -> None:
        self.minimum_size = minimum_size
        self.cache = GzipCache(cache_bytes) if cache_bytes else None

    async def gzip(self, digest: str, body: bytes, *, keep: bool = True) -> bytes:
        """`body` gzipped; `digest` names its exact bytes (the cache's key).
        `keep=False`: neither looked up nor kept (an answer unlikely to be
        asked for again in these very bytes)."""
        cache = self.cache if keep else None
        if cache is not None:
            cached = cache.get(digest)
            (_CACHE_MISSES if cached is None else _CACHE_HITS).inc()
            if cached is not None:
                return cached
        if len(body) >= THREAD_MINIMUM_BYTES:
            compressed = await anyio.to_thread.run_sync(gzip_bytes, body)
        else:
            compressed = gzip_bytes(body)
        if cache is not None:
            cache.put(digest, compressed)
        return compressed


class ETaggedResponse(Response):
    """A JSON answer whose ETag names its exact bytes, as sent: `"<digest>"`
    for the identity form and `"<digest>-gzip"` for the gzipped one (a strong
    validator names one representation, and a content coding is another one;
    RFC 9110 8.8.3). The encoding, and with it the ETag and the 304 of a GET
    whose `If-None-Match` names this representation, are decided as the
    response is sent, after the request's transaction has ended. The gzipped
    bytes come from the cache when this version was compressed before.
    `GZipMiddleware` passes an answer that already has a `Content-Encoding`
    through untouched. It varies with the caller (`Authorization`: what RLS
    shows) and, from the gzip size on, `Accept-Encoding`: both are always
    named, so a cache in front keys every ETagged answer the same way."""

    media_type = "application/json"

    def __init__(
        self, content: bytes, *, digest: str, headers: Mapping[str, str], keep_gzip: bool = True
    ) -> None:
        super().__init__(content=content, headers=headers)
        self.digest = digest
        # Whether the gzipped form goes through the cache (trees: read again
        # and again by many; not a page of one caller's list).
        self.keep_gzip = keep_gzip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        compression: Compression | None = getattr(scope["app"].state, "compression", None)
        self.headers.add_vary_header("Authorization")
        self.headers.add_vary_header("Accept-Encoding")
        gzipped = (
            compression is not None
            and len(self.body) >= compression.minimum_size
            and accepts_gzip(scope["headers"])
        )
        etag = f'"{self.digest}-gzip"' if gzipped else f'"{self.digest}"'
        held = _header(scope, b"if-none-match")
        if scope["method"] in ("GET", "HEAD") and none_match(held, etag):
            headers = {
                name: value
                for name, value in self.headers.items()
                if name not in ("content-length", "content-type")
            }
            not_modified = Response(status_code=304, headers={**headers, "ETag": etag})
            not_modified.background = self.background
            await not_modified(scope, receive, send)
            return
        self.headers["ETag"] = etag
        if gzipped:
            assert compression is not None
            self.body = await compression.gzip(self.digest, self.body, keep=self.keep_gzip)
            self.headers["Content-Encoding"] = "gzip"
            self.headers["Content-Length"] = str(len(self.body))
        await super().__call__(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (the first, decoded as Latin-1, as Starlette does)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class IsalGzipResponder(IdentityResponder):
    """Starlette's responder (the headers, `Vary`, and answers left alone when
    small, excluded, partial or already encoded) compressing through its public
    `apply_compression` with ISA-L: one gzip stream per answer, a sync flush
    after each chunk of a streamed one. Bodies from THREAD_MINIMUM_BYTES on
    are compressed in a worker thread, so the event loop serves other
    requests meanwhile."""

    content_encoding = "gzip"

    def __init__(self, app: ASGIApp, minimum_size: int) -> None:
        super().__init__(app, minimum_size)
        self.stream: isal_zlib.Compress | None = None

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if len(body) >= THREAD_MINIMUM_BYTES:
            return await anyio.to_thread.run_sync(self.compress, body, more_body)
        return self.compress(body, more_body)

    def compress(self, body: bytes, more_body: bool) -> bytes:
        if self.stream is None:
            self.stream = isal_zlib.compressobj(COMPRESS_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
        if more_body:
            return self.stream.compress(body) + self.stream.flush(isal_zlib.Z_SYNC_FLUSH)
        return self.stream.compress(body) + self.stream.flush()


class IsalGZipMiddleware:
    """Starlette's `GZipMiddleware` with ISA-L's compressor: gzip when the
    request accepts it, else Starlette's identity responder (which marks big
    answers `Vary: Accept-Encoding` and leaves them as they are)."""

    def __init__(self, app: ASGIApp, minimum_size: int) -> None:
        self.app = app
        self.minimum_size = minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if accepts_gzip(scope["headers"]):
            responder: ASGIApp = IsalGzipResponder(self.app, self.minimum_size)
        else:
            responder = IdentityResponder(self.app, self.minimum_size)
        await responder(scope, receive, send)
