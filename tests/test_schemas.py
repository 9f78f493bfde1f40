"""`app.http.schemas.dumps` (orjson) writes exactly what pydantic's serializer
writes for the values rows hold: the read path's answers depend on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

import pytest
from asyncpg.pgproto.pgproto import UUID as AsyncpgUUID
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import to_json

from app.contents.schemas import Fidelity
from app.http.schemas import JsonObject, Name, PartialUpdate, Slug, dumps

pytestmark = pytest.mark.pure

EDGES = [
    0.1, 1e16, 1e21, 1e-7, 123456789.123456789, 5e-324, 1.7976931348623157e308, -0.0, 100.0,
    2**63 - 1, -(2**63), True, False, None, [], {},
    "".join(chr(i) for i in range(0x30)), "\x7f\u2028\u2029😀é\"\\/ <script>",
    uuid.UUID(int=7), AsyncpgUUID(str(uuid.UUID(int=8))),
    datetime(2026, 1, 1, 1, 2, 3, 120000, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-3))),
]  # fmt: skip


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_dumps_writes_what_pydantic_writes(value: object) -> None:
    assert dumps(value) == to_json(value)


@pytest.mark.parametrize("value", [Decimal("0.88"), Decimal("1"), Decimal("0.10"), Decimal("0")])
def test_dumps_writes_a_decimal_as_the_api_decimal_type_does(value: Decimal) -> None:
    """A JSON number, as `Fidelity` serializes it (not pydantic's string)."""
    written = dumps(value)
    assert written == TypeAdapter(Fidelity).dump_json(value)
    assert Decimal(written.decode()) == value


def test_dumps_of_a_tree_node_with_metadata() -> None:
    node = {
        "id": AsyncpgUUID(str(uuid.uuid4())), "slug": "1-1", "fidelity_score": 0.88,
        "metadata": {"z": [1, 2.5, {"é": None, "n": -1e-9}], "a": "\n\t"}, "children": [],
    }  # fmt: skip
    assert dumps([node, {**node, "children": [node]}]) == to_json(
        [node, {**node, "children": [node]}]
    )


def test_dumps_refuses_what_the_api_never_answers() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})


class _Create(BaseModel):
    slug: Slug
    title: Name = Field(description="The create's own words.")
    count: Annotated[int, Field(ge=0)] = 3
    notes: JsonObject | None = None


class _Update(PartialUpdate, fields_of=_Create):
    not_nullable = frozenset({"slug"})

    title: Name | None = Field(default=None, description="The update's own words.")
    hidden: bool | None = None


def test_a_partial_update_takes_the_create_bodys_fields_in_order_all_optional() -> None:
    fields = _Update.model_fields
    assert list(fields) == ["slug", "title", "count", "notes", "hidden"]
    assert all(not f.is_required() and f.default is None for f in fields.values())
    # What the create alone says stays there; what the update declares wins.
    assert fields["count"].description is None
    assert fields["title"].description == "The update's own words."
    assert _Update().model_fields_set == set()
    with pytest.raises(ValidationError, match="cannot be null"):
        _Update(slug=None)


def _accepts(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


@given(
    slug=st.text(max_size=8),
    title=st.text(max_size=8),
    count=st.integers(-3, 3),
    notes=st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
def test_a_partial_update_refuses_each_value_the_create_body_refuses(
    slug: str, title: str, count: int, notes: dict[str, str]
) -> None:
    """The create's types and constraints (pattern, NUL, bounds, JSON checks)
    hold for the update's fields, one by one."""
    valid = {"slug": "a", "title": "t"}
    for name, value in {"slug": slug, "title": title, "count": count, "notes": notes}.items():
        assert _accepts(_Update, {name: value}) == _accepts(_Create, {**valid, name: value})
