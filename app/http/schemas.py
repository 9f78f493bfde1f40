"""Types shared by the resources' request and response models."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator
from starlette.responses import Response

from app.http.bodies import check_json_tree

SLUG_PATTERN = r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$"
SLUG_MAX_LENGTH = 200


def no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here as a 422, not a 500.
    if "\x00" in value:
        raise ValueError("text may not contain NUL (\\u0000) characters")
    return value


# Deepest nesting of a JSON field (metadata, project_metadata, schemas…).
# Stored values are served inside other JSON (a tree nests 16 levels, two
# JSON levels each, around a node's metadata), and the response encoder stops
# at 255 levels: 64 leaves room for both.
MAX_JSON_DEPTH = 64


def _json_checked(value: Any) -> Any:
    """No NUL in any key or text, at most MAX_JSON_DEPTH levels."""
    check_json_tree(value, MAX_JSON_DEPTH, no_nul, ValueError)
    return value


Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(no_nul)]
ShortText = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(no_nul)]
LongText = Annotated[str, StringConstraints(max_length=2_000_000), AfterValidator(no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_checked)]


def body_config(*examples: dict[str, Any]) -> ConfigDict:
    """A request body's model config: an unknown field is refused (a misspelt
    field is a 422, never silently ignored); `examples` show in the docs."""
    if not examples:
        return ConfigDict(extra="forbid")
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class RowModel(BaseModel):
    """Base of the models the API answers with: each is validated from a row
    as a service read it, a mapping or an object with attributes."""

    model_config = ConfigDict(from_attributes=True)


class PartialUpdate(BaseModel):
    """Base of PATCH bodies: a field left out stays as it is; a field sent as
    `null` clears it, which only the nullable columns allow.

    `class XUpdate(PartialUpdate, fields_of=XCreate)` takes its fields from
    the create body instead of listing them again: each of them, in its
    order, with its type and constraints, optional. What is the create's
    alone (a field's default, its description) stays there; a field the
    update declares itself (with a description of its own) keeps its place."""

    not_nullable: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, fields_of: type[BaseModel] | None = None, **kwargs: Any) -> None:
        # Runs before pydantic collects the class's fields: they are added as
        # if the class body had declared them (`name: type | None = None`).
        if fields_of is not None:
            own = dict(cls.__annotations__)
            cls.__annotations__.clear()
            for name, field in fields_of.model_fields.items():
                if name in own:
                    cls.__annotations__[name] = own.pop(name)
                    continue
                kind: Any = field.annotation
                if field.metadata:
                    kind = Annotated[(kind, *field.metadata)]
                cls.__annotations__[name] = kind | None
                setattr(cls, name, None)
            cls.__annotations__.update(own)
        super().__init_subclass__(**kwargs)

    @model_validator(mode="after")
    def _refuse_null_for_required(self) -> PartialUpdate:
        cleared = sorted(
            name
            for name in self.model_fields_set & self.not_nullable
            if getattr(self, name) is None
        )
        if cleared:
            raise ValueError(f"these fields cannot be null: {', '.join(cleared)}")
        return self


def _as_pydantic_does(value: Any) -> str | float:
    # The types orjson leaves to us: pydantic writes a UUID as a string
    # (asyncpg's UUID is a subclass of uuid.UUID, which orjson only knows
    # exactly); a Decimal is a JSON number, as the API's decimal type
    # (`app.contents.schemas.Fidelity`) serializes it.
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not a JSON type of this API")


def dumps(value: Any) -> bytes:
    """JSON bytes of rows as read (dicts, lists, text, numbers, UUIDs,
    decimals, UTC datetimes, jsonb values): exactly what pydantic's
    serializer writes for the same values (tests/test_schemas.py pins it,
    floats and escapes included), at a quarter of its CPU on bodies."""
    return orjson.dumps(value, default=_as_pydantic_does, option=orjson.OPT_UTC_Z)


def model_bytes(model: type[BaseModel], row: Mapping[str, Any]) -> bytes:
    """A row as its response model's JSON, by `dumps`: the model's fields in
    its order, whatever else the row holds (a write's RETURNING of the whole
    table). The same bytes a read of exactly those columns answers, so a
    write's ETag is the next GET's."""
    return dumps({name: row[name] for name in model.model_fields})


def rows_response(document: Any) -> Response:
    """Rows read with exactly their response model's columns, in its field
    order (`TableRows.columns`), serialized straight to bytes: the JSON the
    model would give (tests pin it), without building a model per row on the
    way (half the CPU of a list page once the bodies are gzipped)."""
    return Response(dumps(document), media_type="application/json")
