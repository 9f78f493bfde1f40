"""app/ uses the public API of its libraries only: a private member (`_name`)
may change or vanish in any release. Ruff's SLF001 refuses `obj._name` on
anything but `self`/`cls`; this test refuses what SLF001 cannot see: a class
of ours that extends a library's class and overrides, sets or reads a private
member of it (through `self`), as a `_compress_body` override once did, or
a Starlette `Request` subclass caching in Starlette's own `_json`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

APP = Path(__file__).resolve().parents[1] / "app"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _library_names(tree: ast.Module) -> set[str]:
    """Names this module imports from outside `app` (the standard library too:
    its private members are no more stable)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module is not None and node.module.split(".")[0] != "app":
                names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "app":
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def private_members_of_libraries(source: str) -> list[str]:
    """`Class.member` for each private member a class extending a library's
    class defines, assigns or reads (on `self` or `cls`)."""
    tree = ast.parse(source)
    libraries = _library_names(tree)
    found: list[str] = []
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if not any(_root_name(base) in libraries for base in cls.bases):
            continue
        for node in ast.walk(cls):
            name = None
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # A validator the library registers by its decorator (pydantic's
                # `@field_validator`) is ours, whatever its name.
                registered = any(_root_name(d) in libraries for d in node.decorator_list)
                name = None if registered else node.name
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                name = node.id if node in _class_level(cls) else None
            elif isinstance(node, ast.Attribute) and _root_name(node.value) in ("self", "cls"):
                name = node.attr
            if name is not None and _is_private(name):
                found.append(f"{cls.name}.{name}")
    return sorted(set(found))


def _class_level(cls: ast.ClassDef) -> list[ast.expr]:
    """The names a class body assigns directly (its attributes)."""
    targets: list[ast.expr] = []
    for statement in cls.body:
        if isinstance(statement, ast.Assign):
            targets += statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets.append(statement.target)
    return targets


def test_no_class_of_ours_touches_a_private_member_of_the_library_class_it_extends() -> None:
    offenders = {
        str(path.relative_to(APP.parent)): found
        for path in sorted(APP.rglob("*.py"))
        if "static" not in path.parts
        and (found := private_members_of_libraries(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_check_sees_overrides_attributes_and_reads_of_a_library_class() -> None:
    source = """
from starlette.middleware.gzip import GZipResponder
import zlib
from pydantic import BaseModel, field_validator
from app.http import problems

class Responder(GZipResponder):
    _isal = None
    level: int = 1
    def _compress_body(self, body, more_body):
        return self._compressor.compress(body) + self.public

class Ours(problems.ProblemError):
    def _own(self):
        return self._detail

class Model(BaseModel):
    @field_validator("x")
    @classmethod
    def _check(cls, value):
        return value

class Plain:
    def _helper(self):
        return self._state
"""
    assert private_members_of_libraries(source) == [
        "Responder._compress_body",
        "Responder._compressor",
        "Responder._isal",
    ]
