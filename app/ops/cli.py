"""The `creatoros` command."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import signal
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from alembic.util import CommandError
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import API_ROLES, AUTHENTICATED, SERVICE, mint_token, principal_for
from app.db import migrations
from app.db.engine import (
    LOGIN_ROLE,
    DatabaseUnavailable,
    api_database_url,
    create_engine,
    embedded_pgdata,
    guard_login_role,
    resolve_database_url,
)
from app.db.tenancy import tenant_transaction
from app.http.logs import configure_logging, uvicorn_logging
from app.http.problems import is_connection_loss, sqlstate_of
from app.http.server import server_options
from app.ops import admin
from app.revisions import service as revisions
from app.settings import Settings, get_settings
from creatoros_client import cli as client_cli

cli = typer.Typer(
    name="creatoros",
    help="CreatorOS Content API: serve it, migrate its database, provision creators.",
    no_args_is_help=True,
    add_completion=False,
)
db_cli = typer.Typer(help="The database: schema (Alembic) and security.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
minds_cli = typer.Typer(help="Minds (creators' personas) and their users.", no_args_is_help=True)
cli.add_typer(minds_cli, name="minds")
# The scripts' side: the client's own commands (`creatoros-client`), the same code.
cli.command("import")(client_cli.import_courses)
cli.command("export")(client_cli.export_projects)
cli.add_typer(client_cli.outbox_cli, name="outbox")

T = TypeVar("T")
P = ParamSpec("P")

JWT_SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret

# What `serve` says while it starts (the embedded server's data, the secret,
# the docs URL, the demo token) goes through logging: one JSON object per
# line under LOG_FORMAT=json, like everything else the process writes.
log = logging.getLogger("creatoros")


def _database_url(settings: Settings) -> str:
    """Find the database the way `serve` does; fail with a message, not a trace."""
    try:
        url = resolve_database_url(settings)
    except DatabaseUnavailable as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    if settings.uses_embedded_database:
        log.info("Embedded PostgreSQL, data in %s", embedded_pgdata(settings))
    return url


def _settings() -> Settings:
    """The process's settings, with logging set up from them (so what a
    command says about its start goes where the service's logs go)."""
    settings = get_settings()
    configure_logging(settings)
    return settings


def ensure_jwt_secret(settings: Settings) -> bool:
    """Without JWT_SECRET (or a JWKS), keep a generated secret in the data
    directory so that tokens minted today still verify after a restart.
    Returns whether the secret is that development one (ours to mint demo
    tokens with); never when the operator configured the keys."""
    if settings.jwt_secret or settings.jwt_jwks_url or settings.jwt_jwks_file:
        return False
    path = settings.data_dir.expanduser().resolve() / JWT_SECRET_FILE
    if path.is_file():
        secret = path.read_text().strip()
        log.info("JWT_SECRET not set: using the development secret kept in %s", path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(secret + "\n")
        log.info("JWT_SECRET not set: generated a development secret, kept in %s", path)
    settings.jwt_secret = SecretStr(secret)
    return True


async def _with_engine(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[T]],
    admin_url: str | None = None,
) -> T:
    """Run `work` on the engine requests use (the login role), as `serve` builds it."""
    admin_url = admin_url or _database_url(settings)
    engine = create_engine(
        api_database_url(admin_url, settings), settings.model_copy(update={"db_pool_size": 2})
    )
    try:
        guard_login_role(engine, settings)
        return await work(engine)
    finally:
        await engine.dispose()


async def _with_admin_engine(
    admin_url: str, settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]
) -> T:
    """Run `work` as the superuser `admin_url` names: provisioning only."""
    engine = create_engine(admin_url, settings.model_copy(update={"db_pool_size": 1}))
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return " ".join(str(orig).split()) or type(orig).__name__


def clean_errors(command: Callable[P, T]) -> Callable[P, T]:
    """Ordinary mistakes (a revision that does not exist, a database that
    cannot be reached, a URL that is not PostgreSQL's, a refused downgrade)
    end the command with one line on stderr and exit 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except migrations.DataLossRefused as exc:
            _fail(str(exc))
        except CommandError as exc:
            _fail(f"migrations: {_one_line(exc)}")
        except DatabaseUnavailable as exc:
            _fail(str(exc))
        except Exception as exc:
            if is_connection_loss(exc):
                _fail(f"cannot reach the database: {_one_line(exc)}")
            if isinstance(exc, DBAPIError):
                _fail(f"the database refused ({sqlstate_of(exc) or 'error'}): {_one_line(exc)}")
            raise

    return run


def _exit_normally(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


# How `serve` hands the database it resolved (and migrated) to its worker
# processes, which must not start or migrate anything themselves.
SERVE_DATABASE_URL_ENV = "CREATOROS_SERVE_DATABASE_URL"


def worker_app() -> Any:
    """uvicorn's app factory in each `serve --workers N` process."""
    from app.http.observability import forget_dead_workers
    from app.main import create_app

    settings = get_settings()
    configure_logging(settings)
    forget_dead_workers()
    return create_app(settings, database_url=os.environ[SERVE_DATABASE_URL_ENV])


@cli.command()
@clean_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes serving on the same port.")
    ] = 1,
) -> None:
    """Migrate the database to head, then serve the API with uvicorn.

    With `--workers N`, the database (embedded or not) is started and migrated
    once, here, before the N worker processes start; they all use it.
    """
    import uvicorn

    from app.main import create_app

    settings = _settings()
    own_secret = ensure_jwt_secret(settings)
    url = _database_url(settings)
    if settings.migrate_on_start:
        migrations.upgrade_if_behind(url, settings)
    # Requests log in as the login role, never as the superuser that
    # migrated: on the embedded server that is `authenticator` itself.
    api_url = api_database_url(url, settings)
    if settings.uses_embedded_database and own_secret:
        _log_demo_token(settings, url, port)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    log.info("API docs: http://%s:%s/docs  (ReDoc: /redoc)", shown_host, port)
    # uvicorn shuts down gracefully on SIGTERM (in-flight requests finish, at
    # most SHUTDOWN_TIMEOUT seconds, then the lifespan closes the pool), then
    # re-raises the signal. With the default handler that would kill the
    # process before `atexit` stops the embedded PostgreSQL; exiting normally
    # lets it stop cleanly.
    signal.signal(signal.SIGTERM, _exit_normally)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "proxy_headers": True,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        **uvicorn_logging(settings),
        **server_options(settings),
    }
    if workers == 1:
        uvicorn.run(create_app(settings, database_url=api_url), **options)
        return
    # Workers are fresh interpreters: they read the settings from the
    # environment, so hand them what this process resolved.
    os.environ[SERVE_DATABASE_URL_ENV] = api_url
    if settings.jwt_secret is not None:
        os.environ.setdefault("JWT_SECRET", settings.jwt_secret.get_secret_value())
    with tempfile.TemporaryDirectory(prefix="creatoros-metrics-") as metrics_dir:
        # /metrics then adds up every worker's counters (prometheus-client's
        # multiprocess mode), whichever worker a scrape reaches.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("app.ops.cli:worker_app", factory=True, workers=workers, **options)


@cli.command()
def token(
    user: Annotated[uuid.UUID | None, typer.Option(help="The user id (JWT `sub`).")] = None,
    role: Annotated[str, typer.Option(help="anon, authenticated or service_role.")] = AUTHENTICATED,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=60)] = 3600,
) -> None:
    """Mint a JWT signed with the configured secret (JWT_SECRET, or the
    development one in CREATOROS_DATA_DIR). Prints only the token."""
    settings = _settings()
    if role not in API_ROLES:
        _fail(f"--role must be one of {', '.join(sorted(API_ROLES))}", 2)
    if role == AUTHENTICATED and user is None:
        _fail("an authenticated token needs --user", 2)
    ensure_jwt_secret(settings)
    assert settings.jwt_secret is not None
    typer.echo(
        mint_token(
            settings.jwt_secret.get_secret_value(),
            user_id=user,
            role=role,
            ttl_seconds=ttl,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
    )


@minds_cli.command("create")
@clean_errors
def minds_create(
    slug: Annotated[str, typer.Option(help="The mind's slug, unique.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the slug).")] = None,
    user: Annotated[
        uuid.UUID | None, typer.Option(help="The auth user id to link (default: a new one).")
    ] = None,
) -> None:
    """Provision a mind and the user profile that links a login to it.
    Prints JSON with `mind_id` and `user_id`. Idempotent per slug."""
    settings = _settings()

    async def work(engine: AsyncEngine) -> admin.ProvisionedMind:
        return await admin.provision_mind(engine, slug=slug, name=name, user_id=user)

    try:
        admin.check_slug(slug)
        mind = asyncio.run(_with_engine(settings, work))
    except ValueError as exc:
        _fail(str(exc), 2)
    typer.echo(
        admin.as_json(
            {
                "mind_id": mind.mind_id,
                "user_id": mind.user_id,
                "slug": mind.slug,
                "created": mind.created,
            }
        )
    )


@db_cli.command("impersonate")
@clean_errors
def db_impersonate(
    user: Annotated[uuid.UUID, typer.Option(help="The user id (JWT `sub`) to act as.")],
    sql: Annotated[str, typer.Option(help="One SQL statement.")],
    role: Annotated[str, typer.Option(help="anon, authenticated or service_role.")] = AUTHENTICATED,
    commit: Annotated[
        bool, typer.Option(help="Keep the statement's changes (default: roll back).")
    ] = False,
) -> None:
    """Run SQL as that user would through the API (same role, same claims,
    same row level security) and print the rows as JSON lines."""
    if role not in API_ROLES:
        _fail(f"--role must be one of {', '.join(sorted(API_ROLES))}", 2)
    settings = _settings()
    principal = principal_for(user, role)

    async def work(engine: AsyncEngine) -> tuple[list[str], list[Any]]:
        return await admin.run_as(engine, principal, sql, commit=commit)

    try:
        columns, rows = asyncio.run(_with_engine(settings, work))
    except DBAPIError as exc:
        if is_connection_loss(exc):
            raise
        _fail(f"{sqlstate_of(exc) or 'error'}: {getattr(exc.orig, 'args', [exc])[0]}")
    for row in rows:
        typer.echo(admin.as_json(dict(zip(columns, row, strict=True))))
    typer.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)


@db_cli.command("prune-revisions")
@clean_errors
def db_prune_revisions(
    keep_last: Annotated[
        int | None,
        typer.Option(
            min=1, help="Keep each project's last K revisions (default: REVISIONS_KEEP_LAST)."
        ),
    ] = None,
    daily: Annotated[
        bool | None,
        typer.Option(
            "--daily/--no-daily",
            help="Also keep the latest of each UTC day (default: REVISIONS_KEEP_DAILY).",
        ),
    ] = None,
    project: Annotated[uuid.UUID | None, typer.Option(help="Only this project.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count; change nothing.")] = False,
) -> None:
    """Apply the revision retention rule (issue 23): the revisions outside it
    are folded into the next kept one, so every kept revision still reads
    back exactly; the bodies nothing names any more are dropped. Never run
    by the service itself: without the command (or a schedule that runs it)
    every revision is kept."""
    settings = _settings()
    keep = keep_last if keep_last is not None else settings.revisions_keep_last
    if keep is None:
        typer.echo(
            "retention: keep all (REVISIONS_KEEP_LAST unset, no --keep-last): nothing pruned"
        )
        return
    by_day = settings.revisions_keep_daily if daily is None else daily

    async def work(engine: AsyncEngine) -> revisions.Pruned:
        async with tenant_transaction(engine, SERVICE, read_only=dry_run) as conn:
            return await revisions.prune(
                conn, keep_last=keep, daily=by_day, project_id=project, dry_run=dry_run
            )

    pruned = asyncio.run(_with_engine(settings, work))
    rule = f"the last {keep}" + (" and the latest of each day" if by_day else "")
    if dry_run:
        typer.echo(f"retention: keep {rule}: {pruned.revisions} revisions would be folded")
    else:
        typer.echo(
            f"retention: keep {rule}: {pruned.revisions} revisions folded,"
            f" {pruned.history_rows} superseded history rows and {pruned.bodies} bodies dropped"
        )


@db_cli.command("rls-audit")
@clean_errors
def db_rls_audit() -> None:
    """Check that every table the API exposes has RLS on and policies.
    Exits 1 listing the offenders."""
    settings = _settings()

    async def work(engine: AsyncEngine) -> list[str]:
        async with engine.connect() as conn:
            return await admin.rls_offenders(conn)

    offenders = asyncio.run(_with_engine(settings, work))
    if offenders:
        for line in offenders:
            typer.secho(f"FAIL {line}", fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"ok: {len(admin.API_TABLES)} tables, RLS on and policies present")


DEMO_MIND = "demo"
DEMO_TOKEN_TTL = 7 * 24 * 3600


def _log_demo_token(settings: Settings, admin_url: str, port: int) -> None:
    """On the embedded default with the generated secret, a newcomer gets a
    creator and a token at once (with a configured JWT_SECRET the token
    would be a real credential in the logs: `serve` never mints one then)."""

    async def work(engine: AsyncEngine) -> admin.ProvisionedMind:
        return await admin.provision_mind(engine, slug=DEMO_MIND, name="Demo creator", user_id=None)

    mind = asyncio.run(_with_engine(settings, work, admin_url))
    if mind.created:
        log.info("Provisioned a demo creator: mind '%s', user %s", mind.slug, mind.user_id)
    assert settings.jwt_secret is not None
    jwt = mint_token(
        settings.jwt_secret.get_secret_value(),
        user_id=mind.user_id,
        ttl_seconds=DEMO_TOKEN_TTL,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    log.info("Development token for '%s' (valid 7 days): %s", mind.slug, jwt)
    log.info("  try: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:%s/v1/me", port)


@db_cli.command("upgrade")
@clean_errors
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = _settings()
    migrations.check_revision(revision)  # unknown: one line, before connecting
    url = _database_url(settings)
    migrations.upgrade(url, revision, settings=settings)
    if settings.authenticator_password is not None:
        password = settings.authenticator_password.get_secret_value()

        async def work(engine: AsyncEngine) -> None:
            await admin.set_login_password(engine, LOGIN_ROLE, password)

        asyncio.run(_with_admin_engine(url, settings, work))
        log.info("login role %s: password set (AUTHENTICATOR_PASSWORD)", LOGIN_ROLE)


# `-1` is a revision, not an option: unknown options are taken as arguments.
@db_cli.command("downgrade", context_settings={"ignore_unknown_options": True})
@clean_errors
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    allow_data_loss: Annotated[
        bool,
        typer.Option(
            help="Undo revisions even when that deletes data (rows, owners); checked for "
            "every revision before anything changes."
        ),
    ] = False,
) -> None:
    """Revert migrations down to REVISION (`-1`: one revision; `base`: everything)."""
    settings = _settings()
    if revision.startswith("-") and not revision[1:].isdigit():
        _fail(f"no such option or revision: {revision}", 2)
    migrations.revisions_to_undo(None, revision)  # unknown: one line, no connection
    migrations.downgrade(
        _database_url(settings), revision, allow_data_loss=allow_data_loss, settings=settings
    )


@db_cli.command("current")
@clean_errors
def db_current() -> None:
    """Print the revision the database is at."""
    from alembic import command

    settings = _settings()
    command.current(migrations.alembic_config(_database_url(settings), settings), verbose=False)


@db_cli.command("sql")
@clean_errors
def db_sql(
    revisions: Annotated[
        str, typer.Argument(help="Revision range FROM:TO, or TO from the start.")
    ] = "head",
) -> None:
    """Print the migrations' SQL without running it, for a DBA to review."""
    from alembic import command

    settings = _settings()
    # Offline SQL needs no server: don't start the embedded one for it.
    for end in revisions.split(":"):
        migrations.check_revision(end)  # unknown: one line
    url = settings.database_url and _database_url(settings)
    command.upgrade(migrations.alembic_config(url or "postgresql+asyncpg://"), revisions, sql=True)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
