"""The OpenAPI document is the integrators' contract: a client generated from
it with openapi-python-client must work against the real service."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx

from tests.factories import Creator

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
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
        assert isinstance(lesson, models.Content) and lesson.project_id == project.id

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
