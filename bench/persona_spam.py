"""A victim's search while another creator tries to name it as persona
(issue 20, item 4: 200 projects attached to a victim's mind in 2 s put 212
foreign drafts in its search results and 199 projects in its project list,
and took its searches from 5 to 1,096 ms).

    python -m bench.persona_spam [--database-url URL] [--attempts 200]
                                 [--searches 80] [--creators 4] [--courses 5]

On a database of its own (embedded PostgreSQL, or a throwaway database on the
server `--database-url` names), seeded as `python -m bench` seeds it at a
small scale, with the service running as `creatoros serve` runs it:

1. the victim (the first seeded creator) searches `--searches` times, the
   eight bench queries in turn: p50 and p95 of the HTTP latency;
2. the attacker (the second creator) makes `--attempts` projects naming the
   victim's mind as persona (`POST /v1/projects`); each one accepted (the
   behaviour before revision 0010) gets a draft lesson with the queries'
   words, as the issue's did; the search indexer catches up;
3. the victim searches again; then the victim's project list, and how many
   of its search results are drafts of projects it does not own.

Prints a Markdown table. The goal: the second p50 as the first, every
attempt refused (403 `persona-not-granted`), no foreign project or draft.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.auth import mint_token
from bench.corpus import Corpus
from bench.database import bench_database
from bench.http import LeanClient
from bench.measure import percentile
from bench.ops import SEARCH_LIMIT, SEARCH_QUERIES
from bench.progress import Progress
from bench.seed import Creator, Scale, seed, settle_search_index
from bench.server import running_service

JSON = {"content-type": "application/json"}
# A draft lesson an accepted attempt adds: the bench queries' words, so that
# it would be a match of the victim's searches.
DRAFT = {"slug": "spam", "title": "Agente de automação de tarefas com IA",
         "content_type": "course_lesson",
         "content": " ".join(SEARCH_QUERIES)}  # fmt: skip


@dataclass(frozen=True)
class Searches:
    p50_ms: float
    p95_ms: float
    foreign_drafts: int  # results in projects the victim does not own, not published


@dataclass(frozen=True)
class Attack:
    attempts: int
    refused: int  # 403 persona-not-granted
    accepted: int
    other: dict[int, int]
    seconds: float


async def _searches(client: LeanClient, count: int, own: set[str]) -> Searches:
    for q in SEARCH_QUERIES:  # warm-up: plans, caches, connections
        await client.get("/v1/search", params={"q": q, "limit": SEARCH_LIMIT})
    timings: list[float] = []
    foreign = 0
    for i in range(count):
        q = SEARCH_QUERIES[i % len(SEARCH_QUERIES)]
        started = time.perf_counter()
        response = await client.get("/v1/search", params={"q": q, "limit": SEARCH_LIMIT})
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        foreign += sum(
            1
            for item in response.json()["items"]
            if item["project_id"] not in own and item["status"] != "published"
        )
    return Searches(statistics.median(timings), percentile(timings, 95), foreign)


async def _project_ids(client: LeanClient) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/projects", params=params)).json()
        ids += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def _attack(client: LeanClient, victim: Creator, attempts: int) -> Attack:
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    for i in range(attempts):
        body = {"slug": f"spam-{i}", "name": f"Spam {i}", "project_type": "course",
                "persona_mind_id": str(victim.mind_id)}  # fmt: skip
        made = await client.request(
            "POST", "/v1/projects", content=json.dumps(body).encode(), headers=JSON
        )
        statuses[made.status_code] = statuses.get(made.status_code, 0) + 1
        if made.status_code == 201:
            tree = {"nodes": [DRAFT]}
            await client.put(
                f"/v1/projects/{made.json()['id']}/tree",
                content=json.dumps(tree).encode(),
                headers=JSON,
            )
    seconds = time.perf_counter() - started
    refused, accepted = statuses.pop(403, 0), statuses.pop(201, 0)
    return Attack(attempts, refused, accepted, statuses, seconds)


async def _measure(
    base_url: str, secret: str, victim: Creator, attacker: Creator, args: argparse.Namespace,
    admin_dsn: str,
) -> tuple[Searches, Attack, Searches, int, int]:  # fmt: skip
    def client(who: Creator) -> LeanClient:
        token = mint_token(secret, user_id=who.user_id, ttl_seconds=3600)
        return LeanClient(base_url, {"authorization": f"Bearer {token}"}, max_connections=1)

    async with client(victim) as as_victim, client(attacker) as as_attacker:
        own = {str(p) for p in victim.project_ids}
        listed_before = len(await _project_ids(as_victim))
        before = await _searches(as_victim, args.searches, own)
        attack = await _attack(as_attacker, victim, args.attempts)
        await settle_search_index(admin_dsn)
        after = await _searches(as_victim, args.searches, own)
        listed_after = len(await _project_ids(as_victim))
    return before, attack, after, listed_before, listed_after


def _table(rows: Sequence[tuple[str, str]]) -> str:
    lines = ["| | |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.persona_spam", description=__doc__)
    parser.add_argument("--database-url", default=None, help="a superuser URL (else embedded)")
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--searches", type=int, default=80)
    parser.add_argument("--creators", type=int, default=4)
    parser.add_argument("--courses", type=int, default=5)
    args = parser.parse_args(argv)

    scale = Scale(creators=args.creators, courses=args.courses)
    secret = secrets.token_urlsafe(32)
    with bench_database(args.database_url) as db, tempfile.TemporaryDirectory() as logs:
        seeded = asyncio.run(
            seed(db.admin_dsn, Corpus.load(), scale, jobs=1, progress=Progress(), seed=7)
        )
        victim, attacker = seeded.creators[0], seeded.creators[1]
        with running_service(
            db.login_url, jwt_secret=secret, pool_size=4, log_dir=Path(logs)
        ) as service:
            before, attack, after, listed_before, listed_after = asyncio.run(
                _measure(service.base_url, secret, victim, attacker, args, db.admin_dsn)
            )
    print(f"\n## Persona spam ({seeded.rows.get('contents', 0):,} contents,"
          f" {args.creators} creators x {args.courses} courses)\n")  # fmt: skip
    other = ", ".join(f"{n}x {status}" for status, n in sorted(attack.other.items())) or "none"
    print(
        _table(
            [
                ("victim's search p50 before (ms)", f"{before.p50_ms:.1f}"),
                ("victim's search p95 before (ms)", f"{before.p95_ms:.1f}"),
                ("persona attempts", f"{attack.attempts} in {attack.seconds:.1f} s"),
                ("refused (403 persona-not-granted)", str(attack.refused)),
                ("accepted (201)", str(attack.accepted)),
                ("other answers", other),
                ("victim's search p50 after (ms)", f"{after.p50_ms:.1f}"),
                ("victim's search p95 after (ms)", f"{after.p95_ms:.1f}"),
                ("p50 after / before", f"{after.p50_ms / before.p50_ms:.2f}x"),
                ("victim's projects listed before → after", f"{listed_before} → {listed_after}"),
                (
                    "foreign drafts in the victim's results, before → after",
                    f"{before.foreign_drafts} → {after.foreign_drafts}",
                ),
            ]
        )
    )


if __name__ == "__main__":
    main()
