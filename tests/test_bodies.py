"""Odd input anywhere is a 4xx problem saying what is wrong, never a 500,
and changes nothing (issue 9): one body policy (app/http/bodies.py) for every
endpoint, JSON depth at validation, cursors with extreme dates."""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from app.http.bodies import (
    MAX_BODY_DEPTH,
    BodyShape,
    JsonBodyRoute,
    ShapeScan,
    _parse_strictly,
    _surely_plain,
    check_shape,
    container_allowance,
    parse_json_body,
)
from app.http.problems import PROBLEM_MEDIA_TYPE
from app.http.schemas import MAX_JSON_DEPTH
from app.main import create_app
from app.settings import Settings
from tests.factories import Creator, new_project

NIL = "00000000-0000-4000-8000-000000000000"


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers."""
    pending: list[Any] = list(app.routes)
    while pending:
        route = pending.pop()
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            pending.extend(route.original_router.routes)


def body_endpoints(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation that takes a body, from the OpenAPI document."""
    return sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    )


@pytest.mark.pure
def test_every_route_with_a_body_parses_it_under_the_one_policy(settings: Settings) -> None:
    app = create_app(settings)
    with_body = [route for route in api_routes(app) if route.body_field is not None]
    assert len(with_body) >= 12
    assert len(body_endpoints(app)) == len(with_body)
    assert [r.path for r in with_body if not isinstance(r, JsonBodyRoute)] == []


def concrete(path: str) -> str:
    """A path template with every parameter filled (a uuid, or a slug)."""
    return re.sub(r"\{[^}]+\}", lambda m: "x" if m.group() == "{slug}" else NIL, path)


BAD_NUMBERS = {
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "1e400": b"1e400",
    "-1e400": b"-1e400",
    "huge integer": b"1" + b"0" * 400,
}
BAD_NUMBER_REASONS = ("is not a JSON number", "out of range", "more than 100 digits")


async def test_nan_infinity_and_out_of_range_numbers_are_refused_by_every_endpoint(
    client: httpx.AsyncClient, alice: Creator, settings: Settings
) -> None:
    """They were stored as null with a 201 (silently changed data)."""
    endpoints = body_endpoints(create_app(settings))
    for method, path in endpoints:
        for name, literal in BAD_NUMBERS.items():
            body = b'{"metadata": {"score": ' + literal + b"}}"
            answer = await client.request(
                method, concrete(path), content=body,
                headers={**alice.headers, "content-type": "application/json"},
            )  # fmt: skip
            assert answer.status_code == 422, (method, path, name, answer.text)
            assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
            message = answer.json()["errors"][0]["msg"]
            assert any(reason in message for reason in BAD_NUMBER_REASONS), message
    listed = await client.get("/v1/projects", headers=alice.headers)
    assert listed.json()["items"] == []


def nested(depth: int, leaf: Any = 1) -> Any:
    """A JSON object `depth` levels deep: {"a": {"a": … leaf}}."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_json_depth_is_limited_at_validation(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(
        client, alice, "deep", name="Deep", project_metadata=nested(MAX_JSON_DEPTH)
    )
    too_deep = await client.patch(
        f"/v1/projects/{project}", headers=alice.headers,
        json={"project_metadata": nested(MAX_JSON_DEPTH + 1)},
    )  # fmt: skip
    assert too_deep.status_code == 422
    assert f"deeper than {MAX_JSON_DEPTH}" in too_deep.text
    # Deeper than the whole body may be: refused while parsing, even 100,000 levels.
    for depth in (MAX_BODY_DEPTH + 1, 100_000):
        raw = '{"project_metadata": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
        answer = await client.patch(
            f"/v1/projects/{project}", content=raw,
            headers={**alice.headers, "content-type": "application/json"},
        )  # fmt: skip
        assert answer.status_code == 422, answer.text[:200]

    # The deepest tree (16 levels) with the deepest metadata on its last
    # lesson is stored, and its tree still reads (it answered 500 forever).
    node: dict[str, Any] = {
        "slug": "n16", "title": "N16", "content_type": "other", "metadata": nested(MAX_JSON_DEPTH)
    }  # fmt: skip
    for level in range(15, 0, -1):
        node = {"slug": f"n{level}", "title": "N", "content_type": "other", "children": [node]}
    put = await client.put(f"/v1/projects/{project}/tree", headers=alice.headers,
                           json={"nodes": [node]})  # fmt: skip
    assert put.status_code == 200, put.text[:500]
    tree = await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)
    assert tree.status_code == 200
    deep = tree.json()["nodes"][0]
    for _ in range(15):
        deep = deep["children"][0]
    assert deep["metadata"] == nested(MAX_JSON_DEPTH)
    node_too_deep = {"slug": "x", "title": "X", "content_type": "other",
                     "metadata": nested(MAX_JSON_DEPTH + 1)}  # fmt: skip
    refused = await client.put(f"/v1/projects/{project}/tree", headers=alice.headers,
                               json={"nodes": [node_too_deep]})  # fmt: skip
    assert refused.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        '{"nodes": [{"slug": "a", "title": "A", "content_type": "other",'
        ' "metadata": {"k": "\\ud800"}}]}',
        '{"nodes": [{"slug": "a", "title": "A", "content_type": "other",'
        ' "metadata": {"\\udfff": 1}}]}',
        '{"nodes": [{"slug": "a", "title": "\\ud800", "content_type": "other"}]}',
    ],
    ids=["metadata value", "metadata key", "title"],
)
async def test_a_lone_surrogate_is_refused(
    client: httpx.AsyncClient, alice: Creator, body: str
) -> None:
    made = await client.put(
        "/v1/projects/by-slug/s", headers=alice.headers,
        json={"name": "S", "project_type": "other"},
    )  # fmt: skip
    project = made.json()["id"]
    answer = await client.put(
        f"/v1/projects/{project}/tree", content=body,
        headers={**alice.headers, "content-type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert "surrogate" in answer.text
    tree = await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)
    assert tree.json()["nodes"] == []


def cursor(created_at: str, row_id: str = NIL) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, row_id]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00", "x"],
)
async def test_a_cursor_with_an_extreme_date_is_a_422_on_every_list(
    client: httpx.AsyncClient, alice: Creator, moment: str
) -> None:
    made = await client.put(
        "/v1/projects/by-slug/c", headers=alice.headers,
        json={"name": "C", "project_type": "other"},
    )  # fmt: skip
    project = made.json()["id"]
    lists = ["/v1/projects", "/v1/contents", "/v1/frameworks", "/v1/audiences",
             f"/v1/projects/{project}/market-research"]  # fmt: skip
    for path in lists:
        answer = await client.get(path, params={"cursor": cursor(moment)}, headers=alice.headers)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["type"].endswith("invalid-cursor")


async def test_the_extremes_a_cursor_may_hold_still_page(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    for moment in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"):
        answer = await client.get(
            "/v1/projects", params={"cursor": cursor(moment)}, headers=alice.headers
        )
        assert answer.status_code == 200, answer.text


async def test_a_fidelity_with_three_decimals_is_rounded_as_stored(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """The real claude-code fixture has persona_fidelity 0.875."""
    made = await client.put(
        "/v1/projects/by-slug/f", headers=alice.headers,
        json={"name": "F", "project_type": "other"},
    )  # fmt: skip
    project = made.json()["id"]
    content = await client.post(
        "/v1/contents", headers=alice.headers,
        json={"project_id": project, "slug": "l", "title": "L", "content_type": "other",
              "fidelity_score": 0.875},
    )  # fmt: skip
    assert content.status_code == 201, content.text
    assert float(content.json()["fidelity_score"]) == 0.88
    too_high = await client.patch(
        f"/v1/contents/{content.json()['id']}", headers=alice.headers,
        json={"fidelity_score": 1.5},
    )  # fmt: skip
    assert too_high.status_code == 422


# Database-free: the fast path of the body policy (pydantic-core's parser)
# must accept, refuse and word a refusal exactly as the strict path does.
EDGE_BODIES = [
    b'{"a": [1, -0, 2.5, -1.5e-3, 1e22, 0.1, true, false, null, "x"]}',
    '{"texto": "ação \\u00e9 \\ud83d\\ude00 \\/ \\" \\\\ \\n"}'.encode(),
    b"NaN",
    b"Infinity",
    b'{"x": -Infinity}',
    b"1e400",
    b"[-1e400]",
    b"1e308",
    b"1" + b"0" * 99,  # 100 digits: the most allowed
    b"1" + b"0" * 100,
    b"-1" + b"0" * 98,  # 100 characters with its sign
    b"-1" + b"0" * 99,
    b'"\\ud800"',
    b'{"\\udfff": 1}',
    b'"\xed\xa0\x80"',
    b'"\xff"',
    '{"a": "á"}'.encode("utf-16"),
    b'\xef\xbb\xbf{"a": 1}',
    b'"a\nb"',
    b"[1,]",
    b"01",
    b"",
    b"1 2",
    b'"\\u0000"',
    b"[" * MAX_BODY_DEPTH + b"]" * MAX_BODY_DEPTH,
    b"[" * (MAX_BODY_DEPTH + 1) + b"]" * (MAX_BODY_DEPTH + 1),
    b'{"a": ' * 300 + b"1" + b"}" * 300,
]


def outcome(parse: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "value", parse(raw)
    except json.JSONDecodeError as exc:
        return "refused", str(exc)


@pytest.mark.pure
@pytest.mark.parametrize("raw", EDGE_BODIES, ids=lambda raw: repr(raw[:24]))
def test_the_fast_path_accepts_and_refuses_as_the_strict_path(raw: bytes) -> None:
    fast, strict = outcome(parse_json_body, raw), outcome(_parse_strictly, raw)
    assert repr(fast) == repr(strict)  # repr: -0.0 and 0, 1 and 1.0 differ


@pytest.mark.pure
def test_only_a_doubt_leaves_the_fast_path() -> None:
    tree = {"nodes": [{"slug": "a", "metadata": {"n": 10**30, "f": 0.5}, "children": []}]}
    assert _surely_plain(tree)
    assert _surely_plain(nested(MAX_BODY_DEPTH))
    assert not _surely_plain(nested(MAX_BODY_DEPTH + 1))
    assert not _surely_plain({"a": [float("inf")]})
    assert not _surely_plain([10**99]) and not _surely_plain(-(10**99))


@pytest.mark.pure
def test_a_surrogate_in_its_utf8_form_is_refused_too() -> None:
    """`json` decodes ED A0 80 to a lone surrogate (it passed, and the
    response encoder could not write it)."""
    with pytest.raises(json.JSONDecodeError, match="surrogate"):
        parse_json_body(b'{"title": "\xed\xa0\x80"}')
    assert parse_json_body('{"title": "\ud7ff \ue000"}'.encode()) == {"title": "\ud7ff \ue000"}


# ---- the body's shape, counted before it is parsed (issue 20, item 1) -----------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    # Quotes, backslashes and brackets inside strings are what the scan must skip.
    | st.text(alphabet=st.sampled_from('ab[]{}"\\\n\t/é\u2028😀 :,'), max_size=12),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(
            st.text(alphabet=st.sampled_from('k[{"\\'), max_size=4), children, max_size=6
        )
    ),
    max_leaves=40,
)


def containers(value: Any) -> int:
    """Arrays and objects in a parsed value, counted the slow, sure way."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict | list):
            count += 1
            pending.extend(item.values() if isinstance(item, dict) else item)
    return count


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.pure
@examples(max_examples=400, deadline=None)
@given(
    value=JSON_VALUES,
    ascii_only=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_the_shape_scan_counts_every_document_exactly_in_any_chunks(
    value: Any, ascii_only: bool, cuts: list[int]
) -> None:
    """For any JSON document cut anywhere (in a string, an escape, between a
    backslash and what it escapes), the scan counts its containers exactly;
    a document within the allowance passes, and parses to what `json.loads`
    gives."""
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    scan = ShapeScan()
    for chunk in split(raw, cuts):
        scan.feed(chunk)
    assert scan.containers == containers(value)
    shape = BodyShape(container_allowance(len(raw)))
    assert all([shape.feed(chunk) for chunk in split(raw, cuts)])
    assert repr(parse_json_body(raw)) == repr(json.loads(raw))
    # With an allowance one short, the same chunks are refused.
    if scan.containers:
        tight = BodyShape(scan.containers - 1)
        assert not all([tight.feed(chunk) for chunk in split(raw, cuts)])


PATHOLOGICAL_UNITS = [b"[],", b"{},", b"[[]],", b'{"a":[]},', b'[{}, "x"],', b'{"[":[""]},']


@pytest.mark.pure
@examples(max_examples=12, deadline=None)
@given(unit=st.sampled_from(PATHOLOGICAL_UNITS), mib=st.integers(min_value=1, max_value=4))
def test_pathological_shapes_are_refused_with_bounded_memory(unit: bytes, mib: int) -> None:
    """Containers packed tighter than real payloads: refused before anything
    is built, allocating a few MB beyond the body's own bytes (15 MiB of `[],`
    took the process from 117 to 846 MB before)."""
    raw = b"[" + unit * (mib * 1024 * 1024 // len(unit)) + b"[]]"
    tracemalloc.start()
    try:
        with pytest.raises(json.JSONDecodeError, match=r"more than \d+ JSON arrays and objects"):
            parse_json_body(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The scan works in 64 KiB slices: a few MB whatever the body's size.
    assert peak < len(raw) + 4 * 1024 * 1024, peak


@pytest.mark.pure
def test_the_shape_check_of_a_course_tree_is_cheap() -> None:
    """A 133-node course (~730 KB of JSON, Markdown links and all) is far
    within its allowance and settled by counting bytes: well under a
    millisecond on this machine, against ~2-3 ms to parse it (the numbers
    are in the report; the assertion leaves room for a loaded machine)."""
    lesson = '# Aula\n\nVeja [o guia](https://x.dev/a) e `{json}` "aspas" — ação.\n' * 70
    nodes = [
        {"slug": f"m{m}", "title": f"Módulo {m}", "content_type": "course_module",
         "content": lesson, "metadata": {"module": m},
         "children": [
            {"slug": f"{m}-{n}", "title": f"{m}.{n}", "content_type": "course_lesson",
             "content": lesson, "metadata": {"bloom_level": "apply", "tags": ["a", "b"]}}
            for n in range(1, 11)
         ]}
        for m in range(1, 13)
    ]  # fmt: skip
    raw = json.dumps({"nodes": nodes}).encode()
    assert len(raw) > 500_000 and containers(json.loads(raw)) < container_allowance(len(raw))
    started = time.perf_counter()
    for _ in range(10):
        check_shape(raw)
    assert (time.perf_counter() - started) / 10 < 0.005
