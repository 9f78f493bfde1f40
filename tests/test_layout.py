"""The test tree's own rules: what tests share lives in `tests/factories.py`
and `tests/helpers.py` (or another module that is not a test), never in a
test module that others import (it then runs as a dependency, and moving or
deleting a test breaks tests elsewhere)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

TESTS = Path(__file__).resolve().parent


def imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    """Every module a file imports, with the line: `import a.b`, `from a.b
    import c` (c may itself be a module), and relative imports by name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def names_a_test_module(module: str) -> bool:
    return any(part.startswith("test_") for part in module.split("."))


def test_no_module_imports_from_a_test_module() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in imported_modules(ast.parse(path.read_text(), str(path)))
        if names_a_test_module(module)
    ]
    assert offenders == [], "move the shared code to tests/helpers.py or tests/factories.py"


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import tests.test_cli\n"
        "from tests.trees.test_trees import put_tree\n"
        "from tests.trees import test_trees\n"
        "from .test_router import create\n"
        "from tests.helpers import gauge\n"
    )
    imports = imported_modules(ast.parse(source))
    assert sorted({line for line, module in imports if names_a_test_module(module)}) == [1, 2, 3, 4]
