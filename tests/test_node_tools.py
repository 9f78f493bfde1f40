"""Where node is missing, the tests that need it skip saying why, except in
CI (`CI=true`), which has node and so fails."""

from __future__ import annotations

import shutil

import pytest

from tests import node

pytestmark = pytest.mark.pure


@pytest.fixture
def no_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)


def test_without_node_the_tests_skip_saying_why(
    no_node: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        node.install_node_tools()


def test_without_node_ci_fails(no_node: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        node.install_node_tools()
