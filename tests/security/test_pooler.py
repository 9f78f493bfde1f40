"""Two service processes behind one PgBouncer in transaction mode
(`DB_POOLER_MODE=true`), as a Supabase deployment connects through Supavisor.

Issue 9: a second `creatoros serve` (or a restart) died at start-up with
`prepared statement "__asyncpg_stmt_1__" already exists`, and ~300 named
statements piled up on a server connection after ~1,200 requests.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.factories import Creator
from tests.helpers import CREATOROS, TEST_JWT_SECRET, clean_env, free_port
from tests.pg import PgServer
from tests.pgbouncer import Bouncer, pgbouncer

POOL_SIZE = 2  # server connections PgBouncer keeps for the login role
REQUESTS = 2000
CONCURRENCY = 12
STATEMENTS_BOUND = 5


@contextmanager
def service(url: str, data_dir: Path) -> Iterator[str]:
    """`creatoros serve` on `url` with DB_POOLER_MODE; yields its base URL once ready."""
    port = free_port()
    env = clean_env(
        data_dir, DATABASE_URL=url, DB_POOLER_MODE="true", JWT_SECRET=TEST_JWT_SECRET,
        DB_POOL_SIZE="4", LOG_LEVEL="WARNING",
    )  # fmt: skip
    proc = subprocess.Popen(
        [CREATOROS, "serve", "--port", str(port)],
        env=env,
        cwd=data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited {proc.returncode}: {proc.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        assert proc.returncode == 0, proc.stdout.read()  # type: ignore[union-attr]


async def statements_per_server_connection(bouncer: Bouncer, database: str) -> list[int]:
    """Named prepared statements on each of PgBouncer's server connections:
    one open transaction per server connection pins them all at once."""
    conns = [
        await asyncpg.connect(bouncer.dsn(database), statement_cache_size=0)
        for _ in range(POOL_SIZE)
    ]
    try:
        for conn in conns:
            await conn.execute("BEGIN")
        pids = {await conn.fetchval("SELECT pg_backend_pid()") for conn in conns}
        assert len(pids) == POOL_SIZE, "each transaction should hold its own server connection"
        return [await c.fetchval("SELECT count(*) FROM pg_prepared_statements") for c in conns]
    finally:
        for conn in conns:
            await conn.execute("ROLLBACK")
            await conn.close()


async def interleaved_load(
    bases: list[str], creators: list[Creator], requests: int
) -> tuple[int, int]:
    """Tenants interleaved over both processes; returns (requests, foreign rows seen)."""
    own: dict[str, list[str]] = {c.slug: [] for c in creators}
    foreign = 0
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(6):
            for creator in creators:
                made = await http.post(
                    f"{bases[i % 2]}/v1/projects", headers=creator.headers,
                    json={"slug": f"p{i}", "name": f"P{i}", "project_type": "course"},
                )  # fmt: skip
                assert made.status_code == 201, made.text
                own[creator.slug].append(made.json()["id"])
        gate = asyncio.Semaphore(CONCURRENCY)
        rng = random.Random(9)

        async def one(i: int) -> None:
            nonlocal foreign
            creator = creators[i % len(creators)]
            other = creators[(i + 1) % len(creators)]
            base = bases[rng.randrange(len(bases))]
            headers = creator.headers
            async with gate:
                kind = i % 3
                if kind == 0:
                    answer = await http.get(f"{base}/v1/projects", headers=creator.headers)
                    assert answer.status_code == 200, answer.text
                    items = answer.json()["items"]
                    assert len(items) == 6
                    foreign += sum(p["creator_mind_id"] != str(creator.mind_id) for p in items)
                elif kind == 1:
                    project = rng.choice(own[creator.slug])
                    answer = await http.get(f"{base}/v1/projects/{project}", headers=headers)
                    assert answer.status_code == 200, answer.text
                    foreign += answer.json()["creator_mind_id"] != str(creator.mind_id)
                else:  # another tenant's id: exactly like a row that does not exist
                    project = rng.choice(own[other.slug])
                    answer = await http.get(f"{base}/v1/projects/{project}", headers=headers)
                    assert answer.status_code == 404, answer.text

        await asyncio.gather(*(one(i) for i in range(requests)))
    return requests + 12, foreign


async def test_two_services_behind_pgbouncer_in_transaction_mode(
    pg_server: PgServer, database: str, alice: Creator, bob: Creator, tmp_path: Path
) -> None:
    name = make_url(database).database
    assert name
    with pgbouncer(pg_server, pool_size=POOL_SIZE) as bouncer:
        url = bouncer.url(name)
        with service(url, tmp_path / "a") as first, service(url, tmp_path / "b") as second:
            served, foreign = await interleaved_load([first, second], [alice, bob], REQUESTS)
            assert foreign == 0
            after_load = await statements_per_server_connection(bouncer, name)
        # Both start again through the same pooler (the first start-up used
        # to leave statements that made the next one fail).
        with service(url, tmp_path / "a") as first, service(url, tmp_path / "b") as second:
            async with httpx.AsyncClient(timeout=30) as http:
                for base, creator in ((first, alice), (second, bob), (first, bob)):
                    me = await http.get(f"{base}/v1/me", headers=creator.headers)
                    assert me.status_code == 200
                    assert me.json()["mind_id"] == str(creator.mind_id)
            after_restart = await statements_per_server_connection(bouncer, name)
    print(
        f"\npooler: {served} requests over 2 processes, prepared statements left per server "
        f"connection: {after_load} after the load, {after_restart} after restarting both"
    )
    assert max(after_load) <= STATEMENTS_BOUND
    assert max(after_restart) <= STATEMENTS_BOUND
