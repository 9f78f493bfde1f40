"""`pip install .` (not editable) must ship every package of the app."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

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


def test_the_service_ships_the_client_it_uses() -> None:
    """`creatoros import` imports creatoros_client: the service's wheel maps it
    from client/, whose own pyproject builds the scripts' distribution."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    client_packages = {
        ".".join(init.parent.relative_to(ROOT / "client").parts)
        for init in (ROOT / "client").rglob("__init__.py")
        if "build" not in init.parts
    }
    assert client_packages == {"creatoros_client"}
    assert "creatoros_client" in config["packages"]
    assert config["package-dir"]["creatoros_client"] == "client/creatoros_client"
    client = tomllib.loads((ROOT / "client" / "pyproject.toml").read_text())
    assert client["tool"]["setuptools"]["packages"] == ["creatoros_client"]
    # …and so needs what the client needs.
    service = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(client["project"]["dependencies"]) <= set(service)
