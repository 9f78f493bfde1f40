"""`pip install .` (not editable) must ship every package of the app."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent


def test_every_app_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "app").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert {"app._alembic", "app._alembic.versions"} <= listed
    assert config["package-dir"]["app._alembic"] == "alembic"


def test_the_service_depends_on_the_client_distribution_and_ships_none_of_it() -> None:
    """`creatoros import` imports creatoros_client from the client's own
    distribution (client/pyproject.toml), which the service requires: the
    service's wheel maps no second copy of its files."""
    service = tomllib.loads((ROOT / "pyproject.toml").read_text())
    config = service["tool"]["setuptools"]
    assert not any(p.startswith("creatoros_client") for p in config["packages"])
    assert not any(p.startswith("creatoros_client") for p in config.get("package-dir", {}))
    assert "creatoros-client" not in service["project"].get("scripts", {})
    client = tomllib.loads((ROOT / "client" / "pyproject.toml").read_text())
    assert client["project"]["name"] == "creatoros-client"
    (requirement,) = [
        d for d in service["project"]["dependencies"] if d.startswith("creatoros-client")
    ]
    assert SpecifierSet(requirement.removeprefix("creatoros-client")).contains(
        client["project"]["version"]
    )


def test_the_install_commands_name_both_distributions() -> None:
    """pip finds `creatoros-client` only when the same command names
    ./client: the README's install commands and CI's do."""
    readme = (ROOT / "README.md").read_text()
    assert "pip install ./client . && creatoros serve" in readme
    assert "pip install -e ./client -e '.[dev,otel]' && pytest" in readme
    assert "pip install --quiet -e ./client -e '.[dev,otel]'" in (ROOT / ".ci" / "run").read_text()
