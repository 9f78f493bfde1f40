"""Alembic, driven from Python: the CLI, `serve` and the tests share this."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from alembic import command

_REPO_ROOT = Path(__file__).resolve().parent.parent


def script_location() -> Path:
    """The migration scripts: the checkout's `alembic/` folder, or the copy an
    installed wheel carries as `app/_alembic` (see pyproject.toml)."""
    installed = Path(__file__).resolve().parent / "_alembic"
    if (installed / "env.py").is_file():
        return installed
    return _REPO_ROOT / "alembic"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    if url is not None:
        # `%` must be doubled for ConfigParser interpolation (passwords may hold one).
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str, *, allow_data_loss: bool = False) -> None:
    cfg = alembic_config(url)
    if allow_data_loss:
        cfg.cmd_opts = _XArgs(["allow_data_loss=true"])  # type: ignore[assignment]
    command.downgrade(cfg, revision)


class _XArgs:
    """What `context.get_x_argument()` reads: Alembic's parsed `-x` options."""

    def __init__(self, x: list[str]) -> None:
        self.x = x
