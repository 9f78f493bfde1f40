"""Each revision carries the whole SQL it runs, as plain strings: it never
loads another revision, never reads app/db/sql/ (the *current* texts, which
change), and never edits SQL text in Python. So what a released revision
runs can be read in its file and never changes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

VERSIONS = Path(__file__).resolve().parents[2] / "alembic" / "versions"
REVISIONS = sorted(VERSIONS.glob("*.py"))
# All a revision needs: Alembic and type hints.
ALLOWED_IMPORTS = {"__future__", "collections.abc", "typing", "alembic"}
LOADERS = ("importlib", "spec_from_file_location", "import_module", "__import__", "exec_module")
# Calls that read files or rewrite strings.
FORBIDDEN_CALLS = {"replace", "open", "read_text", "read_bytes", "sub", "exec", "eval"}


def test_there_are_revisions() -> None:
    assert len(REVISIONS) >= 8


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: p.stem)
def test_a_revision_loads_no_other_module(path: Path) -> None:
    text = path.read_text()
    assert [name for name in LOADERS if name in text] == []
    tree = ast.parse(text)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}  # fmt: skip
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= ALLOWED_IMPORTS


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: p.stem)
def test_a_revision_neither_reads_files_nor_rewrites_sql(path: Path) -> None:
    calls = [
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
    ]
    assert sorted(FORBIDDEN_CALLS.intersection(calls)) == []
