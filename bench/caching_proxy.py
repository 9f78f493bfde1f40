"""Anonymous tree reads through a caching proxy vs straight to the service.

    python -m bench.caching_proxy [--requests N] [--concurrency 8] [--creators 5 --courses 8]

A public course page is what a CDN should serve: the same published tree to
every anonymous reader. This starts nginx (Debian's `nginx`; `proxy_cache`)
in front of the service, configured to honour the service's own headers and
nothing else — no `proxy_cache_valid`, so a response is stored only when its
`Cache-Control` (`public, s-maxage`) lets a shared cache store it, kept for
as long as it says, varied by its `Vary`, served stale while revalidating
when it allows `stale-while-revalidate`, and revalidated with its ETag
(`If-None-Match` upstream). Then anonymous `GET …/tree` (no bodies) of the
public courses at `--concurrency`, interleaved (ABBA): straight to the
service, through the proxy, and the raw asyncpg floor of the same reads (as
`anon`: the tenant switch and the tree's statements, no HTTP).

Prints req/s and p50/p99 of each, the proxy's hit ratio over the timed
requests (its own `$upstream_cache_status`, from its access log), what the
service answered in `Cache-Control`, and CPU per request: the app, the proxy
(master and worker), PostgreSQL and the load generator. A response that
says `private` or `no-cache` is never stored: the hit ratio is then 0 and
every read through the proxy costs the service as much as a direct one.

Everything runs on this machine (the bench's embedded PostgreSQL, seeded
small by default), and everything it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.auth import ANONYMOUS, mint_token
from bench.corpus import DEFAULT_FIXTURES, Corpus
from bench.cpu import CpuMeter, local_postmaster_pid
from bench.database import bench_database
from bench.http import LeanClient
from bench.measure import Phase, Side, compare
from bench.ops import Floor, Targets, read_tree
from bench.progress import Progress
from bench.seed import Scale, seed
from bench.server import free_port, running_service

NGINX_PATHS = ("nginx", "/usr/sbin/nginx")
INSTALL_NGINX = (
    "bench.caching_proxy needs nginx (its proxy_cache): apt-get install nginx "
    "(Debian; the package's own service is not used, the bench starts its own)"
)
POOL_SIZE = 10
# What the load generator accepts, as a browser does: the proxy stores the
# variant for it (the service says `Vary: Accept-Encoding`).
ACCEPT_ENCODING = "gzip, deflate"
# A course is public once it holds a published content (seeded courses are
# published whole, or not at all).
PUBLIC_PROJECTS = (
    "SELECT DISTINCT project_id FROM public.contents"
    " WHERE status = 'published' AND deleted_at IS NULL AND project_id = ANY($1::uuid[])"
)
PUBLISH_COURSE = (
    "UPDATE public.contents SET status = 'published', published_at = now() WHERE project_id = $1"
)
# One line per request: what the cache did, then the status.
NGINX_CONF = """\
{user}worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format cache '$upstream_cache_status $status $request_time "$request"';
    access_log {root}/access.log cache;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    proxy_cache_path {root}/cache levels=1:2 keys_zone=api:16m max_size=1g inactive=10m
                     use_temp_path=off;
    upstream service {{
        server 127.0.0.1:{upstream};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The service's headers decide; no proxy_cache_valid overrides them.
            proxy_cache api;
            proxy_cache_revalidate on;
            # No proxy_cache_lock: its waiters poll every 500 ms, which would
            # add up to seconds to every read of an answer it may not store.
            proxy_cache_background_update on;
            proxy_cache_use_stale updating error timeout http_502 http_503 http_504;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""
# $upstream_cache_status values a cache answered from itself (no upstream wait).
SERVED_BY_CACHE = ("HIT", "STALE", "UPDATING")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.caching_proxy", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="timed reads per side")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4, help="ABBA chunks per side")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--creators", type=int, default=5)
    parser.add_argument("--courses", type=int, default=8)
    parser.add_argument(
        "--small",
        action="store_true",
        help="a quick run on a busy machine: 1 creator, 4 courses, 400 reads per side",
    )
    parser.add_argument(
        "--proxy-workers", type=int, default=1, help="nginx worker processes (default 1)"
    )
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="superuser URL of a server to create the bench database on "
        "(default: $BENCH_DATABASE_URL, else an embedded PostgreSQL in a temp dir)",
    )
    args = parser.parse_args(argv)
    if args.small:
        args.creators, args.courses, args.requests, args.warmup = 1, 4, 400, 40
    return args


def nginx_binary() -> str:
    for candidate in NGINX_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    raise SystemExit(INSTALL_NGINX)


@dataclass(frozen=True)
class Proxy:
    base_url: str
    pid: int
    access_log: Path

    def cache_statuses(self, skip: int = 0) -> collections.Counter[str]:
        """How the proxy answered each request after the first `skip`
        (`-` for a request it did not look up: not a GET or HEAD)."""
        lines = self.access_log.read_text().splitlines()[skip:]
        return collections.Counter(line.split(" ", 1)[0] for line in lines)

    def requests_logged(self) -> int:
        return len(self.access_log.read_text().splitlines())


@contextmanager
def caching_proxy(upstream: str, *, workers: int) -> Iterator[Proxy]:
    """nginx with `proxy_cache` in front of `upstream` (http://127.0.0.1:PORT),
    in a temp dir of its own; stopped (and the dir deleted) on exit."""
    binary = nginx_binary()
    root = Path(tempfile.mkdtemp(prefix="creatoros-bench-nginx-"))
    port = free_port()
    # As root, nginx's workers drop to `nobody`: they must own what they write.
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    for sub in ("tmp", "cache"):
        (root / sub).mkdir()
    if user:
        for path in [root, *root.rglob("*")]:
            shutil.chown(path, user="nobody", group="nogroup")
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            user=user, workers=workers, root=root, port=port, upstream=upstream.rsplit(":", 1)[1]
        )
    )
    process = subprocess.Popen(
        [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_listening(port, process, root / "error.log")
        yield Proxy(f"http://127.0.0.1:{port}", process.pid, root / "access.log")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the master stops its workers
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen[bytes], error_log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = error_log.read_text() if error_log.exists() else ""
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{log[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx did not start listening")


async def public_projects(admin_dsn: str, project_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The seeded courses anyone may read; at a small scale, where the
    seed's dice published none, the first course is published whole."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        found = [row[0] for row in await conn.fetch(PUBLIC_PROJECTS, project_ids)]
        if not found:
            await conn.execute(PUBLISH_COURSE, project_ids[0])
            found = [project_ids[0]]
        return sorted(found)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Checked:
    """What the proxy did with two anonymous reads of a public tree in a row,
    and with two signed-in reads of the same tree (private: never stored, so
    never handed to anyone else), and the headers it decided by."""

    cache_control: str
    vary: str
    anonymous: tuple[str, str]
    signed_in: tuple[str, str]


async def check(service: str, proxy: str, project_id: uuid.UUID, token: str) -> Checked:
    """Both ways answer the same tree (neither wins by failing); what the
    proxy stored, as its `X-Cache-Status` says."""
    path = f"/v1/projects/{project_id}/tree"
    anon = {"accept-encoding": ACCEPT_ENCODING}
    signed = {**anon, "authorization": f"Bearer {token}"}
    async with (
        LeanClient(service, anon, 1) as direct,
        LeanClient(proxy, anon, 1) as cached,
        LeanClient(proxy, signed, 1) as cached_signed,
    ):
        straight = await direct.get(path)
        first, second = await cached.get(path), await cached.get(path)
        mine = [await cached_signed.get(path), await cached_signed.get(path)]
    for response in (straight, first, second, *mine):
        if response.status_code != 200:
            raise RuntimeError(f"a tree read answered {response.status_code}")
    if not straight.content == first.content == second.content:
        raise RuntimeError("the proxy answered another tree than the service")
    return Checked(
        straight.headers.get("cache-control", "(none)"),
        straight.headers.get("vary", "(none)"),
        (first.headers["x-cache-status"], second.headers["x-cache-status"]),
        (mine[0].headers["x-cache-status"], mine[1].headers["x-cache-status"]),
    )


async def measure(
    args: argparse.Namespace,
    service_url: str,
    proxy: Proxy,
    login_dsn: str,
    projects: list[uuid.UUID],
    meter: CpuMeter,
    progress: Progress,
) -> dict[str, Phase]:
    count = args.warmup + args.requests
    targets = Targets(projects=projects, contents=[], empty_projects=[]).cycle(
        projects, count, "caching-proxy"
    )
    headers = {"accept-encoding": ACCEPT_ENCODING}
    floor = Floor(ANONYMOUS)
    pool = await asyncpg.create_pool(login_dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)

    async def floor_read(project_id: uuid.UUID) -> int:
        return await floor.tree(pool, project_id, include_body=False)

    try:
        async with (
            LeanClient(service_url, headers, args.concurrency) as direct,
            LeanClient(proxy.base_url, headers, args.concurrency) as cached,
        ):
            return await compare(
                [
                    Side("service", lambda p: read_tree(direct, p), targets),
                    Side("proxy", lambda p: read_tree(cached, p), targets),
                    Side("floor", floor_read, targets),
                ],
                warmup=args.warmup,
                rounds=args.rounds,
                concurrency=args.concurrency,
                progress=progress,
                label=f"caching proxy c={args.concurrency}",
                meter=meter,
            )
    finally:
        await pool.close()


def hit_ratio(statuses: collections.Counter[str]) -> float:
    total = sum(statuses.values())
    return sum(statuses[s] for s in SERVED_BY_CACHE) / total if total else 0.0


def report(args: argparse.Namespace, outcome: Outcome) -> str:
    phases, statuses, checked = outcome.phases, outcome.statuses, outcome.checked
    service, proxy, floor = phases["service"], phases["proxy"], phases["floor"]
    rows = [
        ("straight to the service", service),
        ("through nginx proxy_cache", proxy),
        ("raw floor (asyncpg, anon)", floor),
    ]
    lines = [
        f"anonymous tree reads (GET tree, no bodies) of {outcome.public} public course(s) at "
        f"c={args.concurrency}, {service.requests} timed each, interleaved, on "
        f"{os.cpu_count()} cores; nginx with {args.proxy_workers} worker(s):",
        f"  the service answered Cache-Control: {checked.cache_control}; Vary: {checked.vary}",
        "  two reads through the proxy after it started, anonymous: "
        f"{', '.join(checked.anonymous)}; with the owner's token (private): "
        f"{', '.join(checked.signed_in)}",
        "",
        "| side | req/s | p50 ms | p99 ms | app CPU ms/req | proxy CPU ms/req "
        "| PostgreSQL CPU ms/req | load generator CPU ms/req |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, phase in rows:
        cpu = phase.cpu_ms
        lines.append(
            f"| {label} | {phase.rps:,.0f} | {phase.pct(50):.2f} | {phase.pct(99):.2f} "
            f"| {cpu.get('service', float('nan')):.3f} | {cpu.get('proxy', float('nan')):.3f} "
            f"| {cpu.get('postgres', float('nan')):.3f} | {cpu.get('bench', float('nan')):.3f} |"
        )
    breakdown = ", ".join(f"{status} {n:,}" for status, n in statuses.most_common())
    lines += [
        "",
        f"proxy hit ratio over the timed reads: {hit_ratio(statuses):.1%} ({breakdown}; "
        f"{'/'.join(SERVED_BY_CACHE)} count as hits)",
        f"req/s through the proxy / straight: {proxy.rps / service.rps:.2f}x; "
        f"p50 ratio to the floor: service {service.pct(50) / floor.pct(50):.2f}x, "
        f"proxy {proxy.pct(50) / floor.pct(50):.2f}x",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    phases: dict[str, Phase]
    statuses: collections.Counter[str]  # the proxy's, over the timed reads
    checked: Checked
    public: int


def run(args: argparse.Namespace) -> Outcome:
    """Database, seed, service, proxy, measure; everything stopped on return."""
    nginx_binary()  # before minutes of seeding: say at once what is missing
    progress = Progress()
    scale = Scale(creators=args.creators, courses=args.courses)
    with ExitStack() as stack:
        progress.done("bench.caching_proxy: creating the bench database")
        db = stack.enter_context(bench_database(args.database_url))
        corpus = Corpus.load(args.fixtures)
        seeded = asyncio.run(seed(db.admin_dsn, corpus, scale, jobs=2, progress=progress))
        every_course = [p for creator in seeded.creators for p in creator.project_ids]
        projects = asyncio.run(public_projects(db.admin_dsn, every_course))
        progress.done(f"bench.caching_proxy: seeded {seeded.rows}; {len(projects)} public")
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-proxy-")))
        secret = secrets.token_urlsafe(48)
        service = stack.enter_context(
            running_service(
                db.login_url,
                jwt_secret=secret,
                pool_size=POOL_SIZE,
                log_dir=log_dir,
                name="service",
            )
        )
        proxy = stack.enter_context(caching_proxy(service.base_url, workers=args.proxy_workers))
        owner = next(c for c in seeded.creators if projects[0] in c.project_ids)
        token = mint_token(secret, user_id=owner.user_id)
        checked = asyncio.run(check(service.base_url, proxy.base_url, projects[0], token))
        postmaster = asyncio.run(local_postmaster_pid(db.admin_dsn))
        meter = CpuMeter(service.pid, postmaster, others={"proxy": proxy.pid})
        logged_before = proxy.requests_logged() + args.warmup  # the checks and the warm-up
        phases = asyncio.run(
            measure(args, service.base_url, proxy, db.login_dsn, projects, meter, progress)
        )
        return Outcome(phases, proxy.cache_statuses(skip=logged_before), checked, len(projects))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcome = run(args)
    print()
    print(report(args, outcome))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
