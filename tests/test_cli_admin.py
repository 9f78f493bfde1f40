"""`creatoros minds create`, `token`, `db impersonate` and `db rls-audit`,
run as real processes against the test's database."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.main import create_app
from app.ops import admin
from app.settings import Settings
from tests.catalog import execute
from tests.helpers import CREATOROS, TEST_JWT_SECRET, clean_env, client_for


@pytest.fixture
def run(tmp_path: Path, database: str):  # type: ignore[no-untyped-def]
    env = clean_env(tmp_path / "data", DATABASE_URL=database, JWT_SECRET=TEST_JWT_SECRET)

    def creatoros(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CREATOROS, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    return creatoros


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def test_rls_audit_passes_then_names_the_table_left_open(run, database: str) -> None:  # type: ignore[no-untyped-def]
    ok = run("db", "rls-audit")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"ok: {len(admin.API_TABLES)} tables" in ok.stdout

    import asyncio

    asyncio.run(execute(dsn(database), "ALTER TABLE market_research DISABLE ROW LEVEL SECURITY"))
    failed = run("db", "rls-audit")
    assert failed.returncode == 1
    assert "market_research: row level security is disabled" in failed.stdout
    assert "contents" not in failed.stdout


async def test_minds_create_token_and_impersonate(
    run,
    settings: Settings,
    api_url: str,  # type: ignore[no-untyped-def]
) -> None:
    created = run("minds", "create", "--slug", "ada", "--name", "Ada Lovelace")
    assert created.returncode == 0, created.stderr
    ada = json.loads(created.stdout)
    assert set(ada) >= {"mind_id", "user_id"} and ada["created"] is True
    again = json.loads(run("minds", "create", "--slug", "ada").stdout)
    assert (again["mind_id"], again["user_id"], again["created"]) == (
        ada["mind_id"], ada["user_id"], False,
    )  # fmt: skip
    grace = json.loads(run("minds", "create", "--slug", "grace").stdout)

    minted = run("token", "--user", ada["user_id"], "--ttl", "600")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    async for client in client_for(create_app(settings, database_url=api_url)):
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["mind_id"] == ada["mind_id"]
        project = await client.post(
            "/v1/projects", headers={"Authorization": f"Bearer {token}"},
            json={"slug": "engine", "name": "Analytical Engine", "project_type": "book"},
        )  # fmt: skip
        assert project.status_code == 201
    project_id = project.json()["id"]

    def impersonate(user: str, sql: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return run("db", "impersonate", "--user", user, "--sql", sql, *extra)

    mine = impersonate(ada["user_id"], "SELECT slug FROM content_projects")
    assert mine.returncode == 0, mine.stderr
    assert [json.loads(line) for line in mine.stdout.splitlines()] == [{"slug": "engine"}]
    theirs = impersonate(grace["user_id"], "SELECT slug FROM content_projects")
    assert theirs.returncode == 0 and theirs.stdout == ""
    update = impersonate(
        grace["user_id"],
        f"UPDATE content_projects SET name = 'x' WHERE id = '{project_id}' RETURNING id",
        "--commit",
    )
    assert update.returncode == 0 and update.stdout == ""
    insert = impersonate(
        grace["user_id"],
        "INSERT INTO contents (project_id, slug, title, content_type)"
        f" VALUES ('{project_id}', 's', 'S', 'other')",
        "--commit",
    )
    assert insert.returncode == 1
    assert "42501" in insert.stderr and "Traceback" not in insert.stderr
    forged = impersonate(ada["user_id"], "SELECT 1", "--role", "postgres")
    assert forged.returncode == 2


def test_token_needs_a_user_for_authenticated(run) -> None:  # type: ignore[no-untyped-def]
    refused = run("token")
    assert refused.returncode == 2
    assert "--user" in refused.stderr
    service = run("token", "--role", "service_role")
    assert service.returncode == 0 and service.stdout.count(".") == 2


@pytest.mark.parametrize("slug", ["", "Bad Slug!", "-ada", "a" * 201])
def test_minds_create_refuses_a_slug_that_is_not_one(run, slug: str) -> None:  # type: ignore[no-untyped-def]
    result = run("minds", "create", "--slug", slug)
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    assert "is not a slug" in result.stderr
    assert result.stdout == ""


def test_impersonate_sends_the_sql_as_written(run) -> None:  # type: ignore[no-untyped-def]
    """`:word` inside a literal is text, not a bind parameter."""
    ada = json.loads(run("minds", "create", "--slug", "ada").stdout)
    result = run(
        "db", "impersonate", "--user", ada["user_id"],
        "--sql", """SELECT '{"n":1}'::jsonb AS doc, 'a:b :c' AS text""",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"doc": {"n": 1}, "text": "a:b :c"}
    wrong = run("db", "impersonate", "--user", ada["user_id"], "--sql", "SELEC 1")
    assert wrong.returncode == 1 and "42601" in wrong.stderr and "Traceback" not in wrong.stderr
