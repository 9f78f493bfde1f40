"""Does one creator's search depend on what another creator does? (issue 20)

    python -m bench.search_isolation [--database-url URL] [--requests 200]

On a fresh database of its own (embedded PostgreSQL, or a throwaway one on
`--database-url`), never vacuumed nor analyzed by hand (autovacuum as
configured), with the service running as `creatoros serve` runs it (its
search indexer on):

1. creator A writes a 133-node course of its own (drafts, ~5 KB bodies of
   the fixture lessons) with `PUT …/tree`, and waits until it is indexed;
2. creator B writes a 133-node course and publishes every node
   (`PATCH /v1/contents/{id}`), then writes 30 lessons of ~250 KB (just under
   the deferral limit) and publishes them; then, at once,
3. A's search is timed: `--requests` searches of `bench.ops.SEARCH_QUERIES`
   in turn, one at a time (goal: p95 ≤ 30 ms, the search goal);
4. then again while B rewrites its published course's bodies with
   `PUT …/tree` in a loop (every node changed each time: all of them deferred
   again, then indexed by the service's indexer; goal: p95 ≤ 50 ms).

It prints p50/p95/p99 of each phase, how many rewrites ran during the last
one, how many rows were deferred when each phase started, and the machine's
Python-loop calibration before and after (`bench.cpu.python_speed`): on a
shared machine, read the milliseconds against it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

from app.auth import mint_token
from app.settings import Settings
from bench.corpus import Corpus
from bench.cpu import python_speed
from bench.database import bench_database
from bench.http import LeanClient
from bench.measure import percentile
from bench.ops import SEARCH_LIMIT, SEARCH_QUERIES
from bench.seed import DEFERRED, wait_until_indexed
from bench.server import running_service

BIG_LESSONS = 30
BIG_BODY_CHARS = 250_000  # under app.trees.sql.DEFER_INDEXING_MAX_BYTES: deferred
BATCH = 10  # big lessons per PUT (30 x 250 KB in one body is 7.5 MB of JSON)
SEARCH_GOALS = {"after B published": 30.0, "while B rewrites": 50.0}


async def _creator(dsn: str, slug: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A mind, its login's user profile and one course project: (user, project)."""
    mind, user, project = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO minds (id, slug, display_name, created_by) VALUES ($1, $2, $2, $3)",
            mind,
            slug,
            str(user),
        )
        await conn.execute("INSERT INTO user_profiles (id, mind_id) VALUES ($1, $2)", user, mind)
        await conn.execute(
            "INSERT INTO content_projects (id, slug, name, project_type, creator_mind_id)"
            " VALUES ($1, $2, $2, 'course', $3)",
            project,
            f"{slug}-course",
            mind,
        )
    finally:
        await conn.close()
    return user, project


async def _deferred(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(DEFERRED))
    finally:
        await conn.close()


def _course(corpus: Corpus, rng: random.Random, slug: str) -> dict[str, Any]:
    return corpus.course(rng, slug, f"Curso {slug}", modules=12, lessons_per_module=10).payload()


async def _put(client: LeanClient, project: uuid.UUID, nodes: list[dict[str, Any]]) -> Any:
    body = json.dumps({"nodes": nodes}).encode()
    response = await client.put(
        f"/v1/projects/{project}/tree",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return response.json()


def _ids(tree: dict[str, Any]) -> list[str]:
    found: list[str] = []
    stack = list(tree["nodes"])
    while stack:
        node = stack.pop()
        found.append(node["id"])
        stack.extend(node.get("children") or [])
    return found


async def _publish(client: LeanClient, content_ids: list[str]) -> None:
    for content_id in content_ids:
        for status in ("reviewed", "published"):
            response = await client.request(
                "PATCH",
                f"/v1/contents/{content_id}",
                content=json.dumps({"status": status}).encode(),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 200, (response.status_code, response.text[:500])


async def _searches(client: LeanClient, count: int) -> list[float]:
    took = []
    for n in range(count):
        params = {"q": SEARCH_QUERIES[n % len(SEARCH_QUERIES)], "limit": SEARCH_LIMIT}
        started = time.perf_counter()
        response = await client.get("/v1/search", params=params)
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.text[:500])
    return took


def _rewritten(course: dict[str, Any], round_: int) -> dict[str, Any]:
    """The course with every body changed (a line appended)."""

    def walk(node: dict[str, Any]) -> dict[str, Any]:
        return {
            **node,
            "content": f"{node.get('content') or ''}\n\nRevisão {round_}.",
            "children": [walk(child) for child in node.get("children") or []],
        }

    return walk(course)


async def run(dsn: str, login_url: str, requests: int) -> dict[str, Any]:
    corpus = Corpus.load()
    rng = random.Random(20)
    secret = secrets.token_urlsafe(48)
    settings = Settings(_env_file=None, jwt_secret=SecretStr(secret))  # type: ignore[call-arg]
    user_a, project_a = await _creator(dsn, "creator-a")
    user_b, project_b = await _creator(dsn, "creator-b")
    found: dict[str, Any] = {"python_loop_ms": {"before": python_speed()}}
    with (
        tempfile.TemporaryDirectory(prefix="bench-isolation-") as log_dir,
        running_service(
            login_url, jwt_secret=secret, pool_size=settings.db_pool_size, log_dir=Path(log_dir)
        ) as service,
    ):
        a = LeanClient(
            service.base_url,
            {"authorization": f"Bearer {mint_token(secret, user_id=user_a)}"},
            max_connections=1,
        )
        b = LeanClient(
            service.base_url,
            {"authorization": f"Bearer {mint_token(secret, user_id=user_b)}"},
            max_connections=2,
        )
        async with a, b:
            await _put(a, project_a, [_course(corpus, rng, "a")])
            await wait_until_indexed(dsn)
            baseline = await _searches(a, requests)

            course_b = _course(corpus, rng, "b")
            await _publish(b, _ids(await _put(b, project_b, [course_b])))
            big = [
                {
                    "slug": f"grande-{n}",
                    "title": f"Aula longa {n}",
                    "content_type": "course_outline",
                    "content": corpus.body(rng, f"Aula longa {n}", BIG_BODY_CHARS)[:BIG_BODY_CHARS],
                }
                for n in range(BIG_LESSONS)
            ]
            for start in range(0, BIG_LESSONS, BATCH):
                tree = await _put(b, project_b, big[start : start + BATCH])
                written = {n["slug"]: n["id"] for n in tree["nodes"]}
                await _publish(b, [written[n["slug"]] for n in big[start : start + BATCH]])
            deferred_then = await _deferred(dsn)
            after_publishing = await _searches(a, requests)

            rounds = 0
            stop = asyncio.Event()

            async def rewrite() -> None:
                nonlocal rounds
                while not stop.is_set():
                    rounds += 1
                    await _put(b, project_b, [_rewritten(course_b, rounds)])

            rewriter = asyncio.create_task(rewrite())
            await asyncio.sleep(0.5)  # the first rewrite is in
            deferred_rewriting = await _deferred(dsn)
            try:
                while_rewriting = await _searches(a, requests)
            finally:
                stop.set()
                await rewriter
    found["python_loop_ms"]["after"] = python_speed()
    found["phases"] = {
        "baseline (A alone)": {"ms": baseline, "deferred": 0},
        "after B published": {"ms": after_publishing, "deferred": deferred_then},
        "while B rewrites": {"ms": while_rewriting, "deferred": deferred_rewriting},
    }
    found["rewrites"] = rounds
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search_isolation", description=__doc__)
    parser.add_argument("--database-url", default=None, help="superuser URL (default: embedded)")
    parser.add_argument("--requests", type=int, default=200, help="timed searches per phase")
    args = parser.parse_args()
    with bench_database(args.database_url) as db:
        found = asyncio.run(run(db.admin_dsn, db.login_url, args.requests))
    loop = found["python_loop_ms"]
    print(
        f"Python loop calibration (bench.cpu.python_speed): {loop['before']} ms before, "
        f"{loop['after']} ms after"
    )
    print(f"Creator A's search, {args.requests} requests per phase, concurrency 1:")
    print()
    print("| phase | rows deferred at its start | p50 ms | p95 ms | p99 ms | goal p95 |")
    print("|---|---:|---:|---:|---:|---|")
    for phase, data in found["phases"].items():
        ms = data["ms"]
        goal = SEARCH_GOALS.get(phase)
        print(
            f"| {phase} | {data['deferred']} | {percentile(ms, 50):.1f} | "
            f"{percentile(ms, 95):.1f} | {percentile(ms, 99):.1f} | "
            f"{f'≤ {goal:.0f} ms' if goal else ''} |"
        )
    print()
    print(
        f"B's rewrites of its 133-node published course during the last phase: {found['rewrites']}"
    )


if __name__ == "__main__":
    main()
