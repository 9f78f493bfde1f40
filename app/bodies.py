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
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

# Deepest nesting of a whole body. A JSON field (metadata…) may nest
# MAX_JSON_DEPTH levels (app.schemas.JsonObject); a tree payload adds two
# levels per tree level (16) around it, and this leaves room for both.
MAX_BODY_DEPTH = 128
MAX_NUMBER_DIGITS = 100


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


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON under the policy above; InvalidJson otherwise."""
    try:
        value = json.loads(
            raw, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except RecursionError as exc:
        raise InvalidJson(f"JSON nested deeper than {MAX_BODY_DEPTH} levels") from exc
    except UnicodeDecodeError as exc:
        raise InvalidJson("the body is not UTF-8") from exc
    # A surrogate can only come from a `\\uD800`-style escape (raw UTF-8 cannot
    # hold one): the texts are only checked when the body has such an escape.
    escaped = b"\\ud" in raw or b"\\uD" in raw
    check_json_tree(value, MAX_BODY_DEPTH, _check_text if escaped else None, InvalidJson)
    return value


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class JsonBodyRoute(APIRoute):
    """An APIRoute whose JSON body is parsed by `parse_json_body`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict
