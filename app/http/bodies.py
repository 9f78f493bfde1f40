"""One policy for every JSON request body, applied where FastAPI parses it.

Python's `json` accepts what JSON does not (`NaN`, `Infinity`) and turns
`1e400` into infinity, which then reached the database as `null` (silently
changed data); it nests until the interpreter's recursion limit, and keeps a
lone UTF-16 surrogate (`"\\ud800"`) that PostgreSQL cannot store and the
response encoder cannot write. Every body is parsed here instead: such input
is a 422 problem naming the reason, before any handler runs.

Routers use `JsonBodyRoute` (`APIRouter(route_class=JsonBodyRoute)`);
tests/test_bodies.py checks that every route with a body does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic_core import from_json

# Deepest nesting of a whole body. A JSON field (metadata…) may nest
# MAX_JSON_DEPTH levels (app.http.schemas.JsonObject); a tree payload adds two
# levels per tree level (16) around it, and this leaves room for both.
MAX_BODY_DEPTH = 128
MAX_NUMBER_DIGITS = 100
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")

# How many arrays and objects a body may hold for its size: every body may
# have CONTAINERS_FLOOR, and one more per BYTES_PER_CONTAINER bytes. Python
# builds each for ~56-200 bytes (and jiter spends ~0.35 µs each), so 15 MiB
# of `[],` (5 million empty lists) took 730 MB and 1.8 s of the only event
# loop; within this bound the containers of any body cost a few times its
# size at most. Real payloads are far below it: a tree node is one object
# (plus its `metadata`, tags…) per hundreds of bytes — the bench's 133-node
# course holds 281 containers in ~780 KB (allowance ~25,000) — and a
# 5,000-node tree of bare 70-byte nodes with an empty `metadata` each (one
# container per 35 bytes) still passes.
CONTAINERS_FLOOR = 1024
BYTES_PER_CONTAINER = 32


def container_allowance(size: int) -> int:
    """The most arrays and objects a body of `size` bytes may hold."""
    return CONTAINERS_FLOOR + size // BYTES_PER_CONTAINER


# A whole JSON string, escapes included (possessive: no backtracking), and
# the rest of one that began in an earlier chunk.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_STRING_END = re.compile(rb'(?:[^"\\]++|\\.)*+"', re.DOTALL)
_SLICE = 64 * 1024


def _trailing_backslashes(chunk: bytes, start: int = 0) -> int:
    """How many backslashes end `chunk` (counting none before `start`)."""
    return min(len(chunk) - len(chunk.rstrip(b"\\")), len(chunk) - start)


# In the chunk reversed: a quote, then an even run of backslashes (the
# quote's escape, if odd), i.e. the last unescaped quote of the chunk.
_LAST_QUOTE = re.compile(rb'"(?:\\\\)*+(?!\\)')


def _last_unescaped_quote(chunk: bytes) -> int:
    """Where the last quote that is not escaped is, or -1 (one search in C,
    however many escaped quotes come after it)."""
    if b'"' not in chunk:
        return -1
    found = _LAST_QUOTE.search(chunk[::-1])
    return -1 if found is None else len(chunk) - 1 - found.start()


class ShapeScan:
    """Counts the arrays and objects of a JSON text fed in chunks, outside
    its strings, with C-speed byte operations only (a regular expression
    drops the strings, then `bytes.count`): no Python object per JSON value.
    Between chunks it keeps whether a string is open and whether the chunk
    ended inside an escape. Exact for valid JSON; for invalid JSON, exact up
    to the first error, where every parser stops too.

    The chunk is cut after its last unescaped quote first: the strings
    before it are all whole, except perhaps one opened by that very quote,
    so the expression never scans a string that does not end in the chunk
    again and again (once per escaped quote in it, as it would otherwise)."""

    __slots__ = ("_escaped", "_in_string", "containers")

    def __init__(self) -> None:
        self.containers = 0
        self._in_string = False
        self._escaped = False

    def feed(self, chunk: bytes) -> int:
        """Count the containers of `chunk`; returns the total so far. A big
        chunk (a whole body) goes in slices: the expression makes a piece
        per string it drops, so its memory follows the slice, not the body."""
        if len(chunk) <= _SLICE:
            return self._feed(chunk)
        for start in range(0, len(chunk), _SLICE):
            self._feed(chunk[start : start + _SLICE])
        return self.containers

    def _feed(self, chunk: bytes) -> int:
        if not chunk:
            return self.containers
        if self._in_string:
            start = 1 if self._escaped else 0  # the escaped byte
            end = _STRING_END.match(chunk, start)
            if end is None:
                self._escaped = _trailing_backslashes(chunk, start) % 2 == 1
                return self.containers
            chunk, self._in_string, self._escaped = chunk[end.end() :], False, False
        quote = _last_unescaped_quote(chunk)
        if quote >= 0:
            tail = chunk[quote + 1 :]
            head = _STRING.sub(b"", chunk[: quote + 1])
            if head.endswith(b'"'):  # the last quote opened a string
                self._in_string = True
                self._escaped = _trailing_backslashes(tail) % 2 == 1
                chunk = head[:-1]
            else:
                chunk = head + tail
        self.containers += chunk.count(b"[") + chunk.count(b"{")
        return self.containers


class BodyShape:
    """Whether a body arriving in chunks stays within `allowance` arrays and
    objects. First the bytes `[` and `{` are only counted (~0.1 ms per MB,
    strings and all): a real payload's count, its Markdown's links included,
    stays far below the allowance, and that settles it. Only a body whose
    count passes it is scanned exactly (`ShapeScan`, from its first chunk:
    the chunks seen so far are kept by reference — the request keeps them
    anyway), which costs more per string it holds but no more memory."""

    __slots__ = ("_exact", "_seen", "_upper_bound", "allowance")

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance
        self._upper_bound = 0
        self._seen: list[bytes] = []
        self._exact: ShapeScan | None = None

    def feed(self, chunk: bytes) -> bool:
        """False once the body holds more containers than its allowance."""
        if self._exact is None:
            self._upper_bound += chunk.count(b"[") + chunk.count(b"{")
            if self._upper_bound <= self.allowance:
                self._seen.append(chunk)
                return True
            self._exact = ShapeScan()
            for seen in self._seen:
                self._exact.feed(seen)
            self._seen = []
        return self._exact.feed(chunk) <= self.allowance


def too_many_containers(size: int) -> str:
    """The 422's reason when a body of `size` bytes holds too many containers."""
    return (
        f"the body holds more than {container_allowance(size)} JSON arrays and objects,"
        f" the most one of {size} bytes may hold ({CONTAINERS_FLOOR}, plus one per"
        f" {BYTES_PER_CONTAINER} bytes)"
    )


def check_shape(raw: bytes) -> None:
    """InvalidJson when `raw` holds more containers than its size allows."""
    if not BodyShape(container_allowance(len(raw))).feed(raw):
        raise InvalidJson(too_many_containers(len(raw)))


class InvalidJson(json.JSONDecodeError):
    """FastAPI answers a JSONDecodeError with a 422 validation problem."""

    def __init__(self, reason: str, doc: str = "", pos: int = 0) -> None:
        super().__init__(reason, doc, pos)


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InvalidJson(f"the number {text[:40]} is out of range")
    return number


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise InvalidJson(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidJson(
            "text contains a lone UTF-16 surrogate (e.g. \\ud800), which is not a character"
        ) from exc


def check_json_tree(
    value: Any,
    max_depth: int,
    check_text: Callable[[str], object] | None,
    error: Callable[[str], Exception],
) -> None:
    """Walk a parsed JSON value without recursion (a deep one must not exhaust
    the interpreter's stack): refuse nesting past `max_depth` with `error`,
    and pass every key and text to `check_text`, if given."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if check_text is not None:
                check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise error(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if check_text is not None:
                        check_text(key)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)


# Integers this large may have more digits than the policy allows (or not):
# the strict path decides. (Bodies never need them; keeps the fast path exact.)
_SURELY_SHORT_INT = 10**99


def _surely_plain(value: Any) -> bool:
    """True when the strict path would accept this parsed value as it is: no
    non-finite float, no integer near the digit limit, no nesting past
    MAX_BODY_DEPTH. Only containers are queued; texts need no look (the fast
    parser refuses lone surrogates itself), so a 5,000-node tree is walked
    several times faster than by `check_json_tree`."""
    pending: list[tuple[Any, int]] = [([value], 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_BODY_DEPTH:
            return False
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind is dict or kind is list:
                pending.append((child, depth + 1))
            elif kind is float:
                if not math.isfinite(child):
                    return False
            elif kind is int and not -_SURELY_SHORT_INT < child < _SURELY_SHORT_INT:
                return False
    return True


# Set in the request's state by `app.http.limits.BodyGuard` once the whole
# body passed `BodyShape` as it streamed: the parse need not count again.
SHAPE_CHECKED = "json_shape_checked"


def parse_json_body(raw: bytes, *, shape_checked: bool = False) -> Any:
    """The body as JSON under the policy above; InvalidJson otherwise.

    Most bodies take the fast path: pydantic-core's parser (jiter, in Rust:
    ~25 ms for a 7 MB, 5,000-node tree against ~65 ms for the strict path),
    which itself refuses NaN/Infinity, lone surrogates, invalid UTF-8 and
    nesting past 200 levels, and parses numbers and texts exactly as `json`
    does. Whatever it refuses, or accepts with a doubt (`_surely_plain`),
    goes to the strict path, which alone decides a refusal and words the
    422: both paths accept, refuse and answer alike.

    First of all, a body with more arrays and objects than its size allows
    (`check_shape`) is refused before anything is built, unless the body
    guard already counted them as the body arrived (`shape_checked`)."""
    if not shape_checked:
        check_shape(raw)
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError:
        return _parse_strictly(raw)
    return value if _surely_plain(value) else _parse_strictly(raw)


def _parse_strictly(raw: bytes) -> Any:
    try:
        value = json.loads(
            raw, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except RecursionError as exc:
        raise InvalidJson(f"JSON nested deeper than {MAX_BODY_DEPTH} levels") from exc
    except UnicodeDecodeError as exc:
        raise InvalidJson("the body is not UTF-8") from exc
    # A surrogate comes from a `\\uD800`-style escape, or from its UTF-8 form
    # (ED A0..BF …), which is not UTF-8 but which `json` decodes with
    # "surrogatepass": the texts are only checked when the body has either.
    escaped = b"\\ud" in raw or b"\\uD" in raw or _RAW_SURROGATE.search(raw) is not None
    check_json_tree(value, MAX_BODY_DEPTH, _check_text if escaped else None, InvalidJson)
    return value


class _StrictJsonRequest(Request):
    # Parsed once, as Starlette's `Request.json` caches it (in a private
    # attribute of its own, which this class leaves alone).
    parsed_json: Any

    async def json(self) -> Any:
        if not hasattr(self, "parsed_json"):
            checked = bool(self.scope.get("state", {}).get(SHAPE_CHECKED))
            self.parsed_json = parse_json_body(await self.body(), shape_checked=checked)
        return self.parsed_json


class JsonBodyRoute(APIRoute):
    """An APIRoute whose JSON body is parsed by `parse_json_body`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict
