"""The pinned Node tools in clients/typescript (package.json, package-lock.json):
openapi-typescript, openapi-fetch, TypeScript, Redocly CLI and Spectral.

`npm ci` runs once per test session, and only when node_modules is missing
or was installed from another lock file (its hash is kept in node_modules),
so the one test command stays `pip install … && pytest`. Without node or npm
the tests that need them skip, saying why; in CI (`CI=true`) they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import unavailable

TOOLS = Path(__file__).resolve().parent.parent / "clients" / "typescript"
BUILD = TOOLS / "build"  # what the tests generate there (git-ignored)
LOCK_STAMP = TOOLS / "node_modules" / ".creatoros-lock-sha256"
NPM_CI_TIMEOUT = 600


def install_node_tools() -> Path:
    """clients/typescript with its node_modules installed from the lock."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            unavailable(
                f"{tool} is not installed: the OpenAPI lints and the TypeScript client "
                "need Node 20.19 or newer with npm (Debian: apt-get install nodejs npm)"
            )
    lock = hashlib.sha256((TOOLS / "package-lock.json").read_bytes()).hexdigest()
    if not LOCK_STAMP.is_file() or LOCK_STAMP.read_text() != lock:
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=TOOLS,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"`npm ci` in {TOOLS} failed (exit {result.returncode}); the tests need the "
                f"pinned tools of its package-lock.json:\n{result.stdout[-2000:]}"
                f"{result.stderr[-4000:]}",
                pytrace=False,
            )
        LOCK_STAMP.write_text(lock)
    BUILD.mkdir(exist_ok=True)
    return TOOLS


def run(
    command: str, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """`node`, or one of the installed tools (node_modules/.bin), run in
    clients/typescript."""
    binary = shutil.which("node") if command == "node" else None
    binary = binary or str(TOOLS / "node_modules" / ".bin" / command)
    return subprocess.run(
        [binary, *args],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **env},
    )


def write_document(document: dict[str, Any]) -> Path:
    """The OpenAPI document where the lint configs expect it (build/openapi.json)."""
    path = BUILD / "openapi.json"
    path.write_text(json.dumps(document, indent=1))
    return path
