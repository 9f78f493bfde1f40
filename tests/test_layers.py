"""The layers of `app/` show in its folders, and imports only go down.

    settings            configuration, imports nothing of ours
    http/               the HTTP kit: nothing from the database layer up
    auth                tokens and principals (uses the HTTP kit's problems)
    db/                 engine, the tenant door, rows, models, migrations
    <resources>/        one package per resource; may use all of the above
    main                assembles the app
    ops/, cli           the operator's commands; may use everything

A module may import its own layer and the layers below it, never above, so a
newcomer knows what a file may depend on from where it lives.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

APP = Path(__file__).resolve().parents[1] / "app"

# Lower number = lower layer.
LAYERS: dict[str, int] = {
    "settings": 0,
    "http": 1,
    "auth": 2,
    "db": 3,
    "main": 5,
    "ops": 6,
    "cli": 6,
    "client_cli": 6,
}
RESOURCE_LAYER = 4


def layer_of(module: str) -> int:
    """`app.http.problems` -> the layer of `http`; any other package of
    `app` is a resource (idempotency, health and the resource packages)."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) == 1:
        return -1  # `app` itself (its version) or a third-party module
    return LAYERS.get(parts[1], RESOURCE_LAYER)


def module_name(path: Path) -> str:
    rel = path.relative_to(APP.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from app.db import tenancy` imports the submodule app.db.tenancy
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("app.")]


def upward_imports() -> list[str]:
    wrong = []
    for path in sorted(APP.rglob("*.py")):
        here = module_name(path)
        mine = layer_of(here)
        for line, imported in app_imports(path):
            theirs = layer_of(imported)
            if theirs > mine:
                wrong.append(f"{path.relative_to(APP.parent)}:{line} imports {imported}")
    return wrong


def test_imports_only_go_down_the_layers() -> None:
    assert upward_imports() == []


def test_the_rule_catches_an_upward_import() -> None:
    assert layer_of("app.http.problems") < layer_of("app.db.tenancy") < layer_of("app.trees.router")
    assert layer_of("app.ops.cli") > layer_of("app.main") > layer_of("app.projects.service")


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of `app` it imports (submodules resolved)."""
    modules = {module_name(p): p for p in APP.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = {module for _, module in app_imports(path)}
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (one per back edge)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Resource package -> the other resource packages it imports, routers
    left out. Below its router a resource builds on others, never back (a
    tree is made of contents, a revision is of a tree): its rules, statements
    and services form no loop across packages either. A router is the top of
    the resource layer: it may call any resource's service (the tree GET
    reads an old revision through `app.revisions`)."""
    packages: dict[str, set[str]] = {}
    for module, imported in graph.items():
        if layer_of(module) != RESOURCE_LAYER or module.endswith(".router"):
            continue
        package = ".".join(module.split(".")[:2])
        packages.setdefault(package, set()).update(
            ".".join(m.split(".")[:2])
            for m in imported
            if layer_of(m) == RESOURCE_LAYER and not m.startswith(package + ".") and m != package
        )
    return packages


def test_resource_packages_below_their_routers_form_no_cycle() -> None:
    graph = package_graph(import_graph())
    assert graph["app.trees"] >= {"app.contents"}  # the walk sees packages
    assert cycles(graph) == []


def test_a_router_may_use_another_resource_but_a_service_may_not_loop_back() -> None:
    graph = {
        "app.trees.router": {"app.revisions.service"},
        "app.revisions.service": {"app.trees.service"},
        "app.trees.service": {"app.contents.service"},
    }
    assert cycles(package_graph(graph)) == []
    graph["app.contents.service"] = {"app.trees.shape"}
    assert cycles(package_graph(graph)) == [["app.contents", "app.trees", "app.contents"]]
