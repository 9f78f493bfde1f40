"""Caching by audience, conditional requests and HEAD, for every API route in
one place (`CachedRoute`, `HeadAsGet`), so no route repeats them.

- A GET's 200 is `ETaggedResponse`: a strong ETag naming its exact bytes
  (one hash of the bytes the route already rendered: nothing is serialized
  twice), `Vary: Authorization, Accept-Encoding`, a 304 when `If-None-Match`
  holds it. Who may keep it depends on who asked: an anonymous caller (the
  `anon` role) can only ever read published content, the same for everyone,
  so its answer is `public` with the max-ages of `CachePolicy` (a CDN in
  front keeps it `s-maxage` seconds and may serve it stale while it
  revalidates); a signed-in caller's is `private, no-cache` (their browser
  keeps it and revalidates every time: a 304 costs no body).
- Writes answer `no-store`, as every problem document does
  (app.http.problems): an error, a 401 or a 404 included, is never cached.
- HEAD is a GET without its body (`HeadAsGet`), so it answers exactly the
  GET's status and headers, `Content-Length` and `ETag` included, and stays
  out of /openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request, Response
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.bodies import JsonBodyRoute
from app.http.compression import ETaggedResponse
from app.http.etags import digest
from app.http.problems import NO_STORE

PRIVATE = "private, no-cache"
CACHED_METHODS = frozenset({"GET", "HEAD"})

# The one 304 every GET declares (CachedRoute adds it).
NOT_MODIFIED_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the answer still matches If-None-Match (no body)."}
}

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="An ETag from an earlier answer (GET or write) of this resource: the "
        "write happens only if the resource is still that version, else 412 and nothing "
        "changes; `*`: only if it exists.",
    ),
]


@dataclass(frozen=True)
class CachePolicy:
    """How long shared caches and browsers may keep an anonymous answer
    (CACHE_MAX_AGE, CACHE_S_MAXAGE, CACHE_STALE_WHILE_REVALIDATE; seconds)."""

    max_age: int = 60
    s_maxage: int = 300
    stale_while_revalidate: int = 60

    @property
    def public(self) -> str:
        return (
            f"public, max-age={self.max_age}, s-maxage={self.s_maxage}, "
            f"stale-while-revalidate={self.stale_while_revalidate}"
        )

    def for_role(self, role: str | None) -> str:
        """The Cache-Control of a GET's 200 for a caller of this role."""
        return self.public if role == "anon" else PRIVATE


DEFAULT_POLICY = CachePolicy()


def etagged(response: Response) -> ETaggedResponse:
    """A rendered 200 as an ETaggedResponse: the same bytes, headers and
    background task, with the hash of those bytes."""
    if isinstance(response, ETaggedResponse):
        return response
    body = bytes(response.body)
    # Its own Content-Type and Content-Length stay (the bytes are the same).
    # The gzip cache is for trees (app.trees.router), not for every answer.
    answer = ETaggedResponse(
        body, digest=digest(body), headers=dict(response.headers), keep_gzip=False
    )
    answer.background = response.background
    return answer


def written(body: bytes) -> ETaggedResponse:
    """A write's answer (PATCH, PUT) with the ETag of the version it wrote:
    the bytes are what a GET now answers, so the ETag is the GET's, and an
    editor chains writes with it (`If-Match`) without reading again."""
    return ETaggedResponse(body, digest=digest(body), headers={}, keep_gzip=False)


class CachedRoute(JsonBodyRoute):
    """The API's route: JSON bodies checked (`JsonBodyRoute`); a GET's 200
    validated and cached by audience, its 304 documented; any other answer
    `no-store`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        if "GET" in methods:
            kwargs["responses"] = {**NOT_MODIFIED_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def cached(request: Request) -> Response:
            response = await handler(request)
            if request.method not in CACHED_METHODS:
                response.headers.setdefault("Cache-Control", NO_STORE)
                return response
            if response.status_code != 200 or isinstance(response, StreamingResponse):
                response.headers.setdefault("Cache-Control", NO_STORE)
                return response
            answer = etagged(response)
            policy: CachePolicy = getattr(request.app.state, "cache_policy", DEFAULT_POLICY)
            answer.headers["Cache-Control"] = policy.for_role(getattr(request.state, "role", None))
            return answer

        return cached


class HeadAsGet:
    """HEAD served as the GET of the same URL, without the body: the same
    status and headers (Content-Length and ETag of the body a GET would
    get), whatever route, with no HEAD operations in the OpenAPI (FastAPI's
    routes take no HEAD; Starlette's would). The app inside gets a copy of
    the scope saying GET; the server's scope keeps HEAD (uvicorn reads it to
    send no body), and so do the log and metrics, which read the route the
    router matched (copied back)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        inner = {**scope, "method": "GET"}

        def matched() -> None:
            if "route" in inner:
                scope["route"] = inner["route"]

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.start":
                matched()
            elif message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(inner, receive, without_body)
        finally:
            matched()
