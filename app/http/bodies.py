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


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON under the policy above; InvalidJson otherwise.

    Most bodies take the fast path: pydantic-core's parser (jiter, in Rust:
    ~25 ms for a 7 MB, 5,000-node tree against ~65 ms for the strict path),
    which itself refuses NaN/Infinity, lone surrogates, invalid UTF-8 and
    nesting past 200 levels, and parses numbers and texts exactly as `json`
    does. Whatever it refuses, or accepts with a doubt (`_surely_plain`),
    goes to the strict path, which alone decides a refusal and words the
    422: both paths accept, refuse and answer alike."""
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
            self.parsed_json = parse_json_body(await self.body())
        return self.parsed_json


class JsonBodyRoute(APIRoute):
    """An APIRoute whose JSON body is parsed by `parse_json_body`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict
