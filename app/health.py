"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from app.db.engine import database_ready
from app.db.migrations import head_revision
from app.http.observability import metrics_response
from app.http.problems import InvalidToken, NotReady, Problem

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


async def metrics(request: Request) -> Response:
    """Prometheus text format, not part of the API's OpenAPI. With
    METRICS_TOKEN set, only a scraper presenting it as a bearer token reads
    it (the counters tell routes, load and errors: not for anyone who can
    reach the API); unset, it is open (bind it to a private network or
    filter it at the load balancer)."""
    token = request.app.state.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "").encode()
        wanted = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest(given, wanted):
            raise InvalidToken("/metrics needs METRICS_TOKEN as a bearer token")
    return metrics_response()
