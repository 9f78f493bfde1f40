"""What every resource router says the same way: how it is built, and how an
operation is documented (its summary, its id, the errors particular to it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel

from app.http.caching import CachedRoute
from app.http.pagination import Page
from app.http.problems import problem_responses

M = TypeVar("M", bound=BaseModel)

# The errors any operation of a resource that takes JSON bodies may answer.
RESOURCE_PROBLEMS = (400, 401, 403, 413, 422, 503)


def resource_router(prefix: str, tag: str) -> APIRouter:
    """A resource's router: JSON bodies checked and answers cached by
    audience (`CachedRoute`), every operation documenting `RESOURCE_PROBLEMS`."""
    return APIRouter(
        route_class=CachedRoute,
        prefix=prefix,
        tags=[tag],
        responses=problem_responses(*RESOURCE_PROBLEMS),
    )


def operation(
    summary: str,
    operation_id: str,
    *problems: int,
    creates: type[BaseModel] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A route decorator's keywords: `problems` are the error statuses this
    operation answers besides the router's; `creates` is the model of an
    idempotent PUT that answers 201 when it created (200 when it updated);
    `options` go to the decorator as they are (`status_code`, `openapi_extra`, …)."""
    spec: dict[str, Any] = {"summary": summary, "operation_id": operation_id}
    responses: dict[int | str, Any] = problem_responses(*problems) if problems else {}
    if creates is not None:
        responses[201] = {"model": creates, "description": "Created"}
    if responses:
        spec["responses"] = responses
    return {**spec, **options}


def model_page(model: type[M], page: tuple[Sequence[Any], str | None]) -> Page[M]:
    """A service's page of rows (rows, next cursor) as the API's `Page` of `model`."""
    rows, next_cursor = page
    return Page[model](  # type: ignore[valid-type]
        items=[model.model_validate(row) for row in rows], next_cursor=next_cursor
    )
