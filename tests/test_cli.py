"""The `creatoros` command as a newcomer meets it: a real process, a real server."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from app.db.engine import LOGIN_ROLE
from app.db.migrations import head_revision
from tests.helpers import (
    CREATOROS,
    READY_WITHIN_SECONDS,
    TEST_JWT_SECRET,
    clean_env,
    free_port,
    wait_ready,
)
from tests.pg import PgServer


@contextmanager
def serving(data_dir: Path, cwd: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [CREATOROS, "serve", "--port", str(port)],
        env=clean_env(data_dir, **env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def embedded_dsn(pgdata: Path) -> str:
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    port, socket_dir = lines[3].strip(), lines[4].strip()
    return f"postgresql://postgres@/creatoros?host={socket_dir}&port={port}"


async def test_serve_on_a_fresh_machine_then_restart_on_the_same_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pgdata = data_dir / "pgdata"

    with serving(data_dir, tmp_path) as (base, proc):
        seconds = wait_ready(base, proc)
        assert seconds < READY_WITHIN_SECONDS
        assert httpx.get(f"{base}/readyz").json()["revision"] == head_revision()
        assert httpx.get(f"{base}/docs").status_code == 200
        conn = await asyncpg.connect(embedded_dsn(pgdata))
        try:
            await conn.execute("INSERT INTO tags (name, tag_type) VALUES ('survives', 'theme')")
        finally:
            await conn.close()
        first_output = stop(proc)

    assert "generated a development secret" in first_output
    assert "/docs" in first_output
    token_lines = [line for line in first_output.splitlines() if "token" in line and "eyJ" in line]
    assert len(token_lines) == 1, first_output
    demo_token = token_lines[0].rsplit(" ", 1)[1]
    assert not (pgdata / "postmaster.pid").exists(), "the embedded server must stop on exit"
    secret = (data_dir / "jwt_secret").read_text()

    with serving(data_dir, tmp_path) as (base, proc):
        wait_ready(base, proc)
        # The first start's token still works: same secret, same demo creator.
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {demo_token}"})
        assert me.status_code == 200, me.text
        assert me.json()["mind_slug"] == "demo"
        conn = await asyncpg.connect(embedded_dsn(pgdata))
        try:
            survived = await conn.fetchval("SELECT count(*) FROM tags WHERE name = 'survives'")
        finally:
            await conn.close()
        second_output = stop(proc)

    assert survived == 1
    assert "using the development secret kept in" in second_output
    assert (data_dir / "jwt_secret").read_text() == secret


async def test_embedded_serve_logs_in_as_a_login_role_that_cannot_become_superuser(
    tmp_path: Path,
) -> None:
    """The API's connections to the embedded server are `authenticator`'s,
    not the superuser's (which only migrates and provisions): a `RESET ROLE`
    in the API's session lands on a role that bypasses nothing. And with
    JWT_SECRET set, start-up mints no demo token (it would be a real
    credential in the logs); under LOG_FORMAT=json every line it writes,
    the banner included, is a JSON record."""
    data_dir = tmp_path / "data"
    with serving(data_dir, tmp_path, JWT_SECRET=TEST_JWT_SECRET, LOG_FORMAT="json") as (
        base,
        proc,
    ):
        wait_ready(base, proc)
        assert httpx.get(f"{base}/readyz").status_code == 200
        dsn = embedded_dsn(data_dir / "pgdata")
        conn = await asyncpg.connect(dsn)
        try:
            users = await conn.fetch(
                "SELECT DISTINCT usename FROM pg_stat_activity"
                " WHERE datname = 'creatoros' AND application_name LIKE 'creatoros%'"
                " AND pid <> pg_backend_pid()"
            )
            reachable_superusers = await conn.fetchval(
                "SELECT count(*) FROM pg_roles r"
                " WHERE r.rolsuper AND pg_has_role($1, r.oid, 'MEMBER')",
                LOGIN_ROLE,
            )
        finally:
            await conn.close()
        # The API's own session, as the API opens it: RESET ROLE goes back
        # to the login role, which is no superuser.
        api = await asyncpg.connect(dsn.replace("postgres@", f"{LOGIN_ROLE}@", 1))
        try:
            await api.execute("RESET ROLE")
            reset = await api.fetchrow(
                "SELECT current_user AS who, rolsuper, rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user"
            )
        finally:
            await api.close()
        out = stop(proc)

    assert [u["usename"] for u in users] == [LOGIN_ROLE]
    assert reachable_superusers == 0
    assert dict(reset) == {"who": LOGIN_ROLE, "rolsuper": False, "rolbypassrls": False}
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert any(str(r["message"]).startswith("API docs: http://") for r in records), out
    assert "eyJ" not in out and "token" not in out.lower(), out


def test_db_sql_prints_the_migrations_without_a_server(tmp_path: Path) -> None:
    result = subprocess.run(
        [CREATOROS, "db", "sql"],
        env=clean_env(tmp_path / "data"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE public.contents" in result.stdout
    assert "UPDATE alembic_version" in result.stdout or "INSERT INTO alembic_version" in (
        result.stdout
    )
    assert not (tmp_path / "data" / "pgdata").exists()


def test_db_commands_on_a_configured_database(tmp_path: Path, empty_database: str) -> None:
    env = clean_env(tmp_path / "data", DATABASE_URL=empty_database)

    def db(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CREATOROS, "db", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert db("upgrade").returncode == 0
    current = db("current")
    assert current.returncode == 0, current.stderr
    assert head_revision() in current.stdout
    assert db("downgrade", "base").returncode == 0
    assert head_revision() not in db("current").stdout
    assert not (tmp_path / "data" / "pgdata").exists(), "DATABASE_URL set: no embedded server"


def _creatoros(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CREATOROS, *args],
        env=clean_env(tmp_path / "data", **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "url", "expected"),
    [
        (("db", "upgrade", "nope"), None, "Can't locate revision identified by 'nope'"),
        (("db", "downgrade", "nope"), None, "Can't locate revision identified by 'nope'"),
        (("db", "sql", "nope"), None, "Can't locate revision identified by 'nope'"),
        (("db", "upgrade"), "postgresql://nobody@127.0.0.1:1/x", "cannot reach the database"),
        (("db", "current"), "postgresql://nobody@no-such-host.invalid/x", "cannot reach"),
        (("db", "upgrade"), "postgresql://u@host:notaport/db", "not a valid URL"),
        (("db", "current"), "mysql://u@localhost/db", "must be a PostgreSQL URL"),
        (("db", "rls-audit"), "sqlite:///x.db", "must be a PostgreSQL URL"),
        (("minds", "create", "--slug", "ada"), "postgresql://u@127.0.0.1:1/x", "cannot reach"),
    ],
)
def test_ordinary_mistakes_print_one_line_and_fail(
    tmp_path: Path, args: tuple[str, ...], url: str | None, expected: str
) -> None:
    env = {"DATABASE_URL": url} if url else {"DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}
    assert_one_clear_line(_creatoros(tmp_path, *args, **env), expected)


def test_downgrade_minus_one_and_a_refused_downgrade(tmp_path: Path, empty_database: str) -> None:
    def db(*args: str) -> subprocess.CompletedProcess[str]:
        return _creatoros(tmp_path, "db", *args, DATABASE_URL=empty_database)

    assert db("upgrade").returncode == 0
    one_back = db("downgrade", "-1")
    assert one_back.returncode == 0, one_back.stderr
    current = db("current").stdout
    assert head_revision() not in current and current.strip()
    assert db("upgrade").returncode == 0

    import asyncio

    from tests.catalog import execute

    asyncio.run(
        execute(
            empty_database.replace("postgresql+asyncpg://", "postgresql://"),
            "INSERT INTO minds (slug, display_name) VALUES ('ada', 'Ada')",
        )
    )
    refused = db("downgrade", "base")
    assert_one_clear_line(refused, "refusing to downgrade")
    assert head_revision() in db("current").stdout
    assert db("downgrade", "base", "--allow-data-loss").returncode == 0


async def test_db_upgrade_provisions_the_login_roles_password(
    tmp_path: Path, pg15_server: PgServer
) -> None:
    """What compose's migrate job does: migrate as the superuser and give
    `authenticator` the password the API (through PgBouncer) logs in with,
    over TCP with password authentication (the machine's PostgreSQL 15)."""
    password = secrets.token_urlsafe(18) + ":%'x"  # quoting matters
    name = await pg15_server.create_database()
    try:
        done = _creatoros(
            tmp_path,
            "db",
            "upgrade",
            DATABASE_URL=pg15_server.url(name),
            AUTHENTICATOR_PASSWORD=password,
        )
        assert done.returncode == 0, done.stderr
        assert password not in done.stderr + done.stdout
        host = urlsplit(pg15_server.base_url).hostname
        conn = await asyncpg.connect(
            host=host, port=5432, user=LOGIN_ROLE, password=password, database=name
        )
        try:
            assert await conn.fetchval("SELECT current_user") == LOGIN_ROLE
        finally:
            await conn.close()
    finally:
        await pg15_server.execute(f"ALTER ROLE {LOGIN_ROLE} PASSWORD NULL")
        await pg15_server.drop_database(name)
