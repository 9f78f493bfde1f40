"""Types shared by the resources' request and response models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

SLUG_PATTERN = r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$"


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here as a 422, not a 500.
    if "\x00" in value:
        raise ValueError("text may not contain NUL (\\u0000) characters")
    return value


def _json_without_nul(value: Any) -> Any:
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _json_without_nul(item)
    elif isinstance(value, list):
        for item in value:
            _json_without_nul(item)
    return value


Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=SLUG_PATTERN),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_no_nul)]
ShortText = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_no_nul)]
LongText = Annotated[str, StringConstraints(max_length=2_000_000), AfterValidator(_no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_without_nul)]
