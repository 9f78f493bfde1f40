"""The OpenAPI document is the integrators' contract: a client generated from
it with openapi-python-client (and clients/python/openapi-python-client.yaml)
must pass `mypy --strict` and work against the real service, public reads
with the unauthenticated `Client`."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tests.factories import Creator, publish_course

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
MYPY = str(Path(sys.executable).with_name("mypy"))
CONFIG = Path(__file__).resolve().parents[2] / "clients" / "python" / "openapi-python-client.yaml"
PACKAGE = "creatoros_generated_client"


def generate(openapi: dict, where: Path) -> None:
    spec = where / "openapi.json"
    spec.write_text(json.dumps(openapi))
    result = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(where / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(CONFIG),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        # its post-generation hook runs ruff, which lives next to the interpreter
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Error" not in result.stdout, result.stdout


def load(where: Path, module: str) -> ModuleType:
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
    return importlib.import_module(f"{PACKAGE}.{module}")


async def test_a_generated_client_creates_lists_updates_and_deletes(
    live_server: str, alice: Creator, tmp_path: Path
) -> None:
    openapi = httpx.get(f"{live_server}/openapi.json").json()
    generate(openapi, tmp_path)
    client_mod = load(tmp_path, "client")
    models = load(tmp_path, "models")
    create_project = load(tmp_path, "api.projects.create_project")
    list_projects = load(tmp_path, "api.projects.list_projects")
    update_project = load(tmp_path, "api.projects.update_project")
    delete_project = load(tmp_path, "api.projects.delete_project")
    get_project = load(tmp_path, "api.projects.get_project")
    create_content = load(tmp_path, "api.contents.create_content")

    client = client_mod.AuthenticatedClient(base_url=live_server, token=alice.token)
    async with client as c:
        created = await create_project.asyncio_detailed(
            client=c,
            body=models.ProjectCreate(
                slug="gerado", name="Curso gerado", project_type=models.ProjectType.COURSE
            ),
        )
        assert created.status_code == 201
        project = created.parsed
        assert isinstance(project, models.Project)
        assert str(project.creator_mind_id) == str(alice.mind_id)

        lesson = await create_content.asyncio(
            client=c,
            body=models.ContentCreate(
                project_id=project.id, slug="l1", title="Lição 1",
                content_type=models.ContentType.COURSE_LESSON,
            ),
        )  # fmt: skip
        assert isinstance(lesson, models.ContentRecord) and lesson.project_id == project.id

        page = await list_projects.asyncio(client=c, limit=10)
        assert [p.slug for p in page.items] == ["gerado"]

        updated = await update_project.asyncio(
            client=c, project_id=project.id,
            body=models.ProjectUpdate(status=models.ProjectStatus.IN_PROGRESS),
        )  # fmt: skip
        assert updated.status == "in_progress" and updated.name == "Curso gerado"

        duplicate = await create_project.asyncio_detailed(
            client=c,
            body=models.ProjectCreate(
                slug="gerado", name="x", project_type=models.ProjectType.BOOK
            ),
        )
        assert duplicate.status_code == 409
        assert isinstance(duplicate.parsed, models.Problem)

        deleted = await delete_project.asyncio_detailed(client=c, project_id=project.id)
        assert deleted.status_code == 204
        gone = await get_project.asyncio_detailed(client=c, project_id=project.id)
        assert gone.status_code == 404
        assert isinstance(gone.parsed, models.Problem) and gone.parsed.status == 404


async def test_a_generated_client_passes_mypy_strict(live_server: str, tmp_path: Path) -> None:
    generate(httpx.get(f"{live_server}/openapi.json").json(), tmp_path)
    result = subprocess.run(
        [MYPY, "--strict", "--no-incremental", "--cache-dir", str(tmp_path / ".mypy"), PACKAGE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout.strip().splitlines()[-1])


def accepted_clients(function: Any) -> set[str]:
    annotation = inspect.signature(function).parameters["client"].annotation
    return {kind.__name__ for kind in typing.get_args(annotation) or (annotation,)}


async def test_a_generated_client_reads_published_work_without_a_token(
    live_server: str, alice: Creator, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        course, _ = await publish_course(http, alice)
    generate(httpx.get(f"{live_server}/openapi.json").json(), tmp_path)
    client_mod = load(tmp_path, "client")
    models = load(tmp_path, "models")
    get_project = load(tmp_path, "api.projects.get_project")
    get_project_tree = load(tmp_path, "api.trees.get_project_tree")
    create_project = load(tmp_path, "api.projects.create_project")

    # The generated functions say which client they take: public reads take
    # either, writes only the authenticated one.
    assert accepted_clients(get_project.asyncio) == {"AuthenticatedClient", "Client"}
    assert accepted_clients(get_project_tree.asyncio) == {"AuthenticatedClient", "Client"}
    assert accepted_clients(create_project.asyncio) == {"AuthenticatedClient"}

    async with client_mod.Client(base_url=live_server) as anonymous:
        project = await get_project.asyncio(client=anonymous, project_id=course)
        assert isinstance(project, models.Project) and project.slug == "course"
        assert project.status == models.ProjectStatus.PLANNING
        tree = await get_project_tree.asyncio(client=anonymous, project_id=course)
        assert isinstance(tree, models.ContentTree)
        outline = tree.nodes[0]
        assert outline.status == models.ContentStatus.PUBLISHED
        assert outline.content_type == models.ContentType.COURSE_OUTLINE
