"""Types shared by the resources' request and response models."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, StringConstraints, model_validator
from starlette.responses import Response

SLUG_PATTERN = r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$"


def no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here as a 422, not a 500.
    if "\x00" in value:
        raise ValueError("text may not contain NUL (\\u0000) characters")
    return value


def _json_without_nul(value: Any) -> Any:
    if isinstance(value, str):
        no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul(key)
            _json_without_nul(item)
    elif isinstance(value, list):
        for item in value:
            _json_without_nul(item)
    return value


Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=SLUG_PATTERN),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(no_nul)]
ShortText = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(no_nul)]
LongText = Annotated[str, StringConstraints(max_length=2_000_000), AfterValidator(no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_without_nul)]


class PartialUpdate(BaseModel):
    """Base of PATCH bodies: a field left out stays as it is; a field sent as
    `null` clears it, which only the nullable columns allow."""

    not_nullable: ClassVar[frozenset[str]] = frozenset()

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


def json_response(model: BaseModel) -> Response:
    """A model built from trusted rows, serialized once straight to bytes.
    Returned as a model, FastAPI would validate it against the response model
    a second time before serializing; the hot GETs skip that (their route
    still declares `response_model`, for the OpenAPI contract)."""
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")
