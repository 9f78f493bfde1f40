"""The client's models mirror the API's schemas: a test keeps them in step
with `/openapi.json` (field names, which are required, enum values)."""

from __future__ import annotations

import enum

import httpx
from pydantic import BaseModel

from creatoros_client import models

# Schemas of the service's own endpoints (health), not of the resources.
NOT_MIRRORED = {"Health", "Readiness"}


def mirrored(name: str) -> object:
    if name.startswith("Page_"):
        return models.Page
    return getattr(models, name, None)


async def test_client_models_match_the_openapi_components(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    checked = 0
    for name, schema in schemas.items():
        if name in NOT_MIRRORED:
            continue
        ours = mirrored(name)
        assert ours is not None, f"the client has no model for {name}"
        if "enum" in schema:
            # A StrEnum with exactly the API's values, so they cannot drift.
            assert isinstance(ours, type) and issubclass(ours, enum.StrEnum), name
            assert [member.value for member in ours] == schema["enum"], name
            checked += 1
            continue
        assert isinstance(ours, type) and issubclass(ours, BaseModel)
        # By their JSON names (a field may be `from_revision` in Python, `from` on the wire).
        fields = {info.alias or field: info for field, info in ours.model_fields.items()}
        assert set(fields) == set(schema["properties"]), name
        required = {f for f, info in fields.items() if info.is_required()}
        assert required == set(schema.get("required", [])), name
        checked += 1
    assert checked >= 35


def test_request_models_refuse_unknown_fields() -> None:
    try:
        models.ProjectCreate(slug="a", name="A", project_type="course", colour="red")  # type: ignore[call-arg]
    except ValueError as exc:
        assert "colour" in str(exc)
    else:
        raise AssertionError("an unknown field was accepted")


def test_a_patch_sends_only_what_was_set() -> None:
    assert models.ProjectUpdate(name="New").to_json() == {"name": "New"}
    assert models.ProjectUpdate(description=None).to_json() == {"description": None}
