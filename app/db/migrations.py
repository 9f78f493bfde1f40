"""Alembic, driven from Python: the CLI, `serve` and the tests share this.

Refused downgrades are decided before anything changes
------------------------------------------------------
Each revision module declares what undoing it would lose, as one SQL boolean
condition evaluated on the database as it is now (at the current revision):

    # Undoing this revision deletes idempotency keys younger than a day.
    DATA_LOSS = "EXISTS (SELECT FROM public.idempotency_keys"
                " WHERE created_at > now() - interval '24 hours')"

or `DATA_LOSS = None` when its downgrade loses nothing. `downgrade()` first
evaluates the condition of every revision it would undo (in one read-only
transaction) and, if any holds, refuses with `DataLossRefused` naming them,
so a refused downgrade leaves the database exactly where it was. Only
`allow_data_loss=True` (`creatoros db downgrade --allow-data-loss`) skips
the check. Checking first, rather than one transaction for the whole
downgrade, also covers revisions that build indexes CONCURRENTLY in
autocommit blocks. A revision without the attribute counts as losing data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text

from alembic import command

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from app.settings import Settings

log = logging.getLogger(__name__)

_REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_LOSS_ATTRIBUTE = "DATA_LOSS"


class DataLossRefused(RuntimeError):
    """A downgrade would lose data; nothing was changed."""

    def __init__(self, revisions: list[str]) -> None:
        self.revisions = revisions
        super().__init__(
            "refusing to downgrade: undoing "
            + ", ".join(revisions)
            + " would delete data (or strip rows of their owners); nothing was changed."
            " To really do it, pass --allow-data-loss"
        )


def script_location() -> Path:
    """The migration scripts: the checkout's `alembic/` folder, or the copy an
    installed wheel carries as `app/_alembic` (see pyproject.toml)."""
    installed = Path(__file__).resolve().parents[1] / "_alembic"
    if (installed / "env.py").is_file():
        return installed
    return _REPO_ROOT / "alembic"


def alembic_config(url: str | None = None, settings: Settings | None = None) -> Config:
    """`settings` reach migrations/env.py, whose engine then follows them
    (DB_POOLER_MODE); without them env.py reads the environment."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    if url is not None:
        # `%` must be doubled for ConfigParser interpolation (passwords may hold one).
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if settings is not None:
        cfg.attributes["settings"] = settings
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    return script_directory().get_current_head()


# The advisory lock every migration run holds (a fixed bigint: "creatoros"
# in ASCII, truncated). Advisory locks are per database, so runs on two
# databases of one server do not wait for each other.
MIGRATION_LOCK_KEY = 0x63726561746F72
MIGRATION_LOCK_POLL_SECONDS = 0.25


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the migration lock on `connection` while Alembic runs.

    Several processes may migrate the same database at once (`serve` on
    every replica, a deploy job): without a lock they raced on the same DDL
    (`duplicate key … pg_type_typname_nsp_index`, `deadlock detected`). With
    it one migrates and the others wait, then find the database at head:
    Alembic reads the current revision after this lock is taken, so they do
    nothing. A session lock (not a transaction one), as each revision
    commits on its own and some run autocommit blocks; it goes with the
    connection if the process dies. (A session lock needs a session: run
    migrations on a direct connection, never through a transaction pooler.)
    """
    try_lock = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=MIGRATION_LOCK_KEY)
    waited = False
    # Try, and between tries hold no transaction: a waiter blocked inside
    # one (pg_advisory_lock) would deadlock with the migrating process's
    # CREATE INDEX CONCURRENTLY, which waits for every open transaction.
    while not connection.scalar(try_lock):
        connection.commit()
        if not waited:
            log.info("another process is migrating this database: waiting for it to finish")
            waited = True
        time.sleep(MIGRATION_LOCK_POLL_SECONDS)
    # Out of the implicit transaction the lock query began: Alembic opens its own.
    connection.commit()
    try:
        yield
    finally:
        if not connection.closed and not connection.invalidated:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()


def upgrade(url: str, revision: str = "head", settings: Settings | None = None) -> None:
    """Migrate to `revision` under the migration lock (alembic/env.py takes it)."""
    command.upgrade(alembic_config(url, settings), revision)


def upgrade_if_behind(url: str, settings: Settings) -> bool:
    """`serve`'s start-up step: migrate only when the database is behind.

    At head nothing is written, so a service that logs in as the login role
    (which may not read `alembic_version` since revision 0004) starts, and
    the check is one pooler-safe query. Returns whether it migrated."""
    from app.db.engine import create_engine, database_ready

    async def current() -> str | None:
        engine = create_engine(url, settings.model_copy(update={"db_pool_size": 1}))
        try:
            return await database_ready(engine)
        finally:
            await engine.dispose()

    if asyncio.run(current()) == head_revision():
        return False
    # Behind: migrate, or (another process holds the lock) wait for the one
    # migrating and find nothing left to do.
    upgrade(url, settings=settings)
    return True


@dataclass(frozen=True)
class Undo:
    """A revision a downgrade would undo, and its data-loss condition."""

    revision: str
    data_loss: str | None


def revisions_to_undo(current: str | None, target: str) -> list[Undo]:
    """What `downgrade` from `current` to `target` would undo, newest first.
    `target` is a revision, `base` or `-N`. Raises alembic's CommandError for
    a revision that does not exist."""
    script = script_directory()
    destination = None
    if target not in ("base",) and not _relative(target):
        destination = script.get_revision(target)  # CommandError when unknown
    if current is None:
        return []
    chain = list(script.iterate_revisions(current, "base"))  # newest first
    if target == "base":
        undone = chain
    elif _relative(target):
        steps = int(target[1:])
        if steps > len(chain):
            raise CommandError(f"cannot go {steps} revisions below {current}")
        undone = chain[:steps]
    else:
        assert destination is not None
        names = [rev.revision for rev in chain]
        undone = chain[: names.index(destination.revision)] if destination.revision in names else []
    return [Undo(r.revision, getattr(r.module, DATA_LOSS_ATTRIBUTE, "true")) for r in undone]


def _relative(target: str) -> bool:
    return target.startswith("-") and target[1:].isdigit()


def check_revision(revision: str) -> None:
    """Raise CommandError when `revision` names none (before connecting).
    Relative steps (`+1`, `-1`) are Alembic's to judge against the database."""
    if revision[:1] in "+-" and revision[1:].isdigit():
        return
    script_directory().get_revision(revision)


async def _current_and_losses(
    url: str, target: str, settings: Settings | None
) -> tuple[str | None, list[str]]:
    from app.db.engine import create_engine
    from app.settings import Settings

    engine = create_engine(url, (settings or Settings()).model_copy(update={"db_pool_size": 1}))
    try:
        async with engine.connect() as conn:
            current = None
            if await conn.scalar(text("SELECT to_regclass('public.alembic_version')")):
                current = await conn.scalar(text("SELECT max(version_num) FROM alembic_version"))
            losing = []
            for undo in revisions_to_undo(current, target):
                if undo.data_loss and await conn.scalar(text(f"SELECT ({undo.data_loss})")):
                    losing.append(undo.revision)
            await conn.rollback()
            return current, losing
    finally:
        await engine.dispose()


def data_loss_of(url: str, target: str, settings: Settings | None = None) -> list[str]:
    """The revisions between the database's revision and `target` whose
    undoing would lose data now (empty: the downgrade is safe)."""
    return asyncio.run(_current_and_losses(url, target, settings))[1]


def downgrade(
    url: str, revision: str, *, allow_data_loss: bool = False, settings: Settings | None = None
) -> None:
    """Revert to `revision`. Unless `allow_data_loss`, first check every
    revision it would undo and refuse (DataLossRefused) before changing anything."""
    if not allow_data_loss:
        losing = data_loss_of(url, revision, settings)
        if losing:
            raise DataLossRefused(losing)
    cfg = alembic_config(url, settings)
    if allow_data_loss:
        cfg.cmd_opts = _XArgs(["allow_data_loss=true"])  # type: ignore[assignment]
    command.downgrade(cfg, revision)


class _XArgs:
    """What `context.get_x_argument()` reads: Alembic's parsed `-x` options."""

    def __init__(self, x: list[str]) -> None:
        self.x = x


__all__ = [
    "CommandError",
    "DataLossRefused",
    "alembic_config",
    "data_loss_of",
    "downgrade",
    "head_revision",
    "revisions_to_undo",
    "upgrade",
]
