"""The problem kinds and the SQLSTATE → HTTP map, as PostgREST draws it."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request

from app.http.problems import PROBLEM_TYPE_BASE, ProblemError, _database_error

pytestmark = pytest.mark.pure


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _request(role: str | None) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/v1/x", "headers": [], "state": {}}
    if role is not None:
        scope["state"]["role"] = role
    return Request(scope)


@pytest.mark.parametrize(
    ("sqlstate", "role", "status"),
    [
        ("42501", "anon", 401),  # "authenticate first", with WWW-Authenticate
        ("42501", "authenticated", 403),
        ("25006", "authenticated", 405),  # a write in a read-only transaction
        ("23505", "authenticated", 409),
        ("57014", "authenticated", 503),
    ],
)
async def test_sqlstates_map_to_statuses(sqlstate: str, role: str, status: int) -> None:
    error = DBAPIError("SELECT 1", None, _Orig(sqlstate))
    response = await _database_error(_request(role), error)
    assert response.status_code == status
    assert response.media_type == "application/problem+json"
    assert json.loads(bytes(response.body))["status"] == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


# The `type`s clients may branch on, with their statuses: a kind renamed or
# moved to another status is a breaking change to the API, so it shows here.
PUBLIC_TYPES = {
    "internal-server-error": 500,
    "invalid-token": 401,
    "forbidden": 403,
    "read-only": 403,
    "no-mind": 403,
    "persona-not-granted": 403,
    "role-not-allowed": 403,
    "not-found": 404,
    "read-only-transaction": 405,
    "conflict": 409,
    "in-use": 409,
    "invalid-status-transition": 409,
    "idempotency-key-in-use": 409,
    "precondition-failed": 412,
    "payload-too-large": 413,
    "validation-error": 422,
    "constraint-violation": 422,
    "invalid-reference": 422,
    "invalid-parent": 422,
    "cycle": 422,
    "invalid-tree": 422,
    "invalid-cursor": 422,
    "invalid-query": 422,
    "idempotency-key-reused": 422,
    "service-unavailable": 503,
    "unavailable": 503,
    "busy": 503,
    "not-ready": 503,
    "timeout": 503,
    "retry": 503,
}


def _kinds(base: type[ProblemError]) -> list[type[ProblemError]]:
    """The kinds a call site raises: the leaves below `base` (a class with
    subclasses, like RetryLater, only carries what its kinds share)."""
    return [
        leaf
        for kind in base.__subclasses__()
        for leaf in (_kinds(kind) if kind.__subclasses__() else [kind])
    ]


def test_each_problem_kind_is_one_public_type() -> None:
    kinds = _kinds(ProblemError)
    assert len({kind.slug for kind in kinds}) == len(kinds), "two kinds share a type"
    assert {kind.slug: kind.status for kind in kinds} == PUBLIC_TYPES
    for kind in kinds:
        response = kind("why").response()
        assert response.status_code == kind.status
        assert response.media_type == "application/problem+json"
        assert json.loads(bytes(response.body)) == {
            "type": PROBLEM_TYPE_BASE + kind.slug,
            "title": HTTPStatus(kind.status).phrase,
            "status": kind.status,
            "detail": "why",
        }
        if kind.status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
        if kind.slug in {"unavailable", "timeout", "retry", "idempotency-key-in-use"}:
            assert response.headers["retry-after"].isdigit()
