"""The SQLSTATE → HTTP map, as PostgREST draws it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request

from app.problems import _database_error


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
