"""`creatoros serve --workers 2` as operators run it: one port, two processes,
JSON logs, request ids visible in `pg_stat_activity`, and a SIGTERM that lets
the request in flight finish before the pool closes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.db.migrations import head_revision
from tests.factories import Creator
from tests.helpers import CREATOROS, TEST_JWT_SECRET, clean_env, free_port, wait_ready
from tests.pg import PgServer

REQUEST_ID = "trace-me-0042"


def serve_two_workers(
    tmp_path: Path, database: str, *, capture: bool = True, **env: str
) -> tuple[subprocess.Popen[str], str]:
    """`creatoros serve --workers 2` on a free port; its output on stdout
    (`capture`, for a test that reads it all at the end) or dropped."""
    port = free_port()
    proc = subprocess.Popen(
        [CREATOROS, "serve", "--port", str(port), "--workers", "2"],
        env=clean_env(tmp_path / "data", DATABASE_URL=database, JWT_SECRET=TEST_JWT_SECRET, **env),
        cwd=tmp_path,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


async def _waiting_in_database(dsn: str, application_name: str) -> bool:
    """True once a backend runs a statement under `application_name`."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(200):
            state = await conn.fetchval(
                "SELECT state FROM pg_stat_activity WHERE application_name = $1",
                application_name,
            )
            if state == "active":
                return True
            await asyncio.sleep(0.05)
        return False
    finally:
        await conn.close()


async def test_two_workers_json_logs_request_id_in_pg_stat_activity_and_graceful_stop(
    tmp_path: Path, database: str, alice: Creator
) -> None:
    dsn = database.replace("postgresql+asyncpg://", "postgresql://", 1)
    proc, base = serve_two_workers(tmp_path, database, LOG_FORMAT="json")
    try:
        wait_ready(base, proc)
        # Metrics add up across the workers (prometheus-client's multiprocess
        # mode): whichever worker answers a scrape reports every request.
        # A new connection each time, so requests and scrapes spread out.
        for _ in range(20):
            assert httpx.get(f"{base}/healthz", headers={"Connection": "close"}).status_code == 200
        # A worker counts a request just after sending its answer: let the
        # last one land before scraping.
        await asyncio.sleep(0.5)
        totals = set()
        for _ in range(4):
            scrape = httpx.get(f"{base}/metrics", headers={"Connection": "close"}).text
            totals.add(
                sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in scrape.splitlines()
                    if line.startswith("creatoros_http_requests_total{")
                    and 'route="/healthz"' in line
                )
            )
        assert totals == {20.0}, totals
        async with httpx.AsyncClient(base_url=base, headers=alice.headers, timeout=30) as client:
            created = await client.post(
                "/v1/projects", json={"slug": "c", "name": "C", "project_type": "course"}
            )
            assert created.status_code == 201, created.text
            project = created.json()["id"]

            # Hold the project's row lock, so the PUT below waits in the
            # database (where pg_stat_activity shows its request id) while
            # the service is told to stop.
            locker = await asyncpg.connect(dsn)
            try:
                lock = locker.transaction()
                await lock.start()
                await locker.execute(
                    "SELECT 1 FROM content_projects WHERE id = $1 FOR UPDATE", project
                )
                put = asyncio.create_task(
                    client.put(
                        f"/v1/projects/{project}/tree",
                        json={
                            "nodes": [{"slug": "o", "title": "O", "content_type": "course_outline"}]
                        },
                        headers={"X-Request-ID": REQUEST_ID},
                    )
                )
                assert await _waiting_in_database(dsn, f"creatoros {REQUEST_ID}")
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(1.0)
                assert not put.done(), "the request in flight was cut off"
                await lock.rollback()
            finally:
                await locker.close()
            answered = await put
        assert answered.status_code == 200, answered.text
        assert answered.headers["x-request-id"] == REQUEST_ID
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    records = []
    for line in out.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    access = [r for r in records if r.get("request_id") == REQUEST_ID and "route" in r]
    assert len(access) == 1, out
    assert access[0]["method"] == "PUT"
    assert access[0]["route"] == "/v1/projects/{project_id}/tree"
    assert access[0]["status"] == 200
    assert access[0]["user_id"] == str(alice.user_id)
    assert {"time", "level", "duration_ms"} <= access[0].keys()
    assert alice.token not in out
    # Started once in the parent, served by two workers.
    assert len({r["message"] for r in records if "Started server process" in r["message"]}) == 2


def _workers(pid: int) -> set[int]:
    """The uvicorn worker processes of `pid` (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = set()
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            # Gone since the list was read: reaped before the open, or
            # between the open and the read (ESRCH; seen in CI just after
            # the supervisor, continued, reaped the killed worker).
            continue
        if b"resource_tracker" not in cmdline:
            workers.add(int(child))
    return workers


def _state(pid: int) -> str:
    """A process's state letter from /proc (Z: a zombie, dead and not reaped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _pool_size_scraped(base: str) -> float:
    scrape = httpx.get(f"{base}/metrics", headers={"Connection": "close"}).text
    (line,) = [x for x in scrape.splitlines() if x.startswith("creatoros_db_pool_size ")]
    return float(line.rsplit(" ", 1)[1])


async def test_a_replaced_worker_is_not_counted_twice_in_the_pool_gauges(
    tmp_path: Path, database: str
) -> None:
    """uvicorn replaces a worker killed with SIGKILL; the dead one's live
    gauges (here the pool size, DB_POOL_SIZE per worker) are dropped: by
    every scrape, as soon as the worker is dead, and by its successor."""
    proc, base = serve_two_workers(tmp_path, database, capture=False, DB_POOL_SIZE="3")
    try:
        wait_ready(base, proc)
        for _ in range(100):  # both workers have started their lifespan
            if _pool_size_scraped(base) == 6:
                break
            await asyncio.sleep(0.1)
        assert _pool_size_scraped(base) == 6
        before = _workers(proc.pid)
        assert len(before) == 2, before
        victim = min(before)
        # The supervisor stopped, the victim is killed and neither reaped
        # (a zombie) nor replaced: the survivor's scrape counts its pool only.
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            os.kill(victim, signal.SIGKILL)
            for _ in range(100):
                if _state(victim) == "Z":
                    break
                await asyncio.sleep(0.05)
            assert _state(victim) == "Z"
            assert [_pool_size_scraped(base) for _ in range(5)] == [3.0] * 5
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        for _ in range(300):
            now = _workers(proc.pid)
            if len(now) == 2 and victim not in now:
                break
            await asyncio.sleep(0.1)
        assert len(now) == 2 and victim not in now, now
        wait_ready(base, proc)
        # The successor counts its pool once it has opened it: 3 until then,
        # then 6 scrape after scrape, and never 9 (the dead worker counted
        # beside the new one).
        seen: list[float] = []
        settled = 0
        for _ in range(300):
            seen.append(_pool_size_scraped(base))
            settled = settled + 1 if seen[-1] == 6 else 0
            if settled == 20:
                break
            await asyncio.sleep(0.1)
        assert settled == 20, seen
        assert max(seen) == 6.0, seen
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _log_records(out: str) -> list[dict[str, object]]:
    """Every line of a LOG_FORMAT=json process's output, parsed (a line that
    is not JSON fails the test: everything goes through logging)."""
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("server", ["embedded", "pg15"])
async def test_four_serves_at_once_on_an_empty_database_one_migrates_all_serve(
    tmp_path: Path, request: pytest.FixtureRequest, server: str
) -> None:
    """Replicas started together on a database nobody migrated yet: the
    migration lock lets one migrate while the others wait, then all four
    find it at head and serve. Without the lock they raced on the same DDL."""
    pg: PgServer = request.getfixturevalue("pg_server" if server == "embedded" else "pg15_server")
    name = await pg.create_database()
    procs: list[tuple[subprocess.Popen[str], str]] = []
    try:
        for i in range(4):
            port = free_port()
            proc = subprocess.Popen(
                [CREATOROS, "serve", "--port", str(port)],
                env=clean_env(
                    tmp_path / f"data{i}",
                    DATABASE_URL=pg.url(name),
                    JWT_SECRET=TEST_JWT_SECRET,
                    LOG_FORMAT="json",
                    SEARCH_INDEX_INTERVAL="0",
                ),
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            procs.append((proc, f"http://127.0.0.1:{port}"))
        for proc, base in procs:
            wait_ready(base, proc)
            assert httpx.get(f"{base}/readyz").json()["revision"] == head_revision()
        conn = await asyncpg.connect(pg.dsn(name))
        try:
            versions = await conn.fetch("SELECT version_num FROM alembic_version")
        finally:
            await conn.close()
        assert [v["version_num"] for v in versions] == [head_revision()]
        outputs = []
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, out
            outputs.append(out)
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await pg.drop_database(name)

    logs = [_log_records(out) for out in outputs]
    for records in logs:
        bad = [r for r in records if r["level"] in ("ERROR", "CRITICAL") or "exception" in r]
        assert bad == [], bad
    migrated = [
        any(str(r["message"]).startswith("Running upgrade") for r in records) for records in logs
    ]
    assert migrated.count(True) == 1, migrated
