"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.db.engine import database_ready
from app.db.migrations import head_revision
from app.http.problems import NotReady, Problem

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

READINESS_TIMEOUT_SECONDS = 5.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    revision: str


# For load balancers: no token, and the document says so (`security: []`).
NO_AUTH: dict[str, Any] = {"security": []}


@router.get("/healthz", summary="The process is up", operation_id="healthz", openapi_extra=NO_AUTH)
async def healthz() -> Health:
    """Answers 200 as long as the process serves requests; touches nothing else."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable and migrated to head",
    operation_id="readyz",
    openapi_extra=NO_AUTH,
    responses={503: {"model": Problem, "content": {"application/problem+json": {}}}},
)
async def readyz(request: Request) -> Readiness:
    """200 once the database answers and its schema is at the newest migration;
    503 otherwise, so no traffic reaches a replica that would fail."""
    head = head_revision()
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            current = await database_ready(request.app.state.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed: %s", exc)
        raise NotReady("the database cannot be reached or queried (see the service log)") from exc
    if current != head:
        raise NotReady(
            f"the database schema is at revision {current or 'none'}, expected {head}; "
            "run `creatoros db upgrade`"
        )
    return Readiness(status="ready", revision=current or "")
