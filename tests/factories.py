"""The one way a test makes what it needs: a creator (a mind, its user and a
token), a project, a content, a tree, an audience. Each factory asserts that
the API made it, so a test fails where the making failed, not later."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import AUTHENTICATED, Principal, mint_token, principal_for
from app.ops.admin import provision_mind
from tests.helpers import TEST_JWT_SECRET

# --- minds and tokens -----------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_headers(user_id: uuid.UUID | None, role: str = AUTHENTICATED) -> dict[str, str]:
    """Headers with a token the test app accepts, for callers that are not a
    provisioned creator: a user with no mind, `anon`, `service_role`."""
    return bearer(mint_token(TEST_JWT_SECRET, user_id=user_id, role=role))


@dataclass(frozen=True)
class Creator:
    """A provisioned creator: a mind, its user, and a valid token."""

    slug: str
    mind_id: uuid.UUID
    user_id: uuid.UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def principal(self) -> Principal:
        return principal_for(self.user_id)


async def provision(engine: AsyncEngine, slug: str) -> Creator:
    """A mind named `slug`, its user, and a token for that user."""
    mind = await provision_mind(engine, slug=slug, name=slug.title(), user_id=None)
    token = mint_token(TEST_JWT_SECRET, user_id=mind.user_id)
    return Creator(slug, mind.mind_id, mind.user_id, token)


# --- projects, contents, trees, audiences ---------------------------------


def created(response: httpx.Response, status: int = 201) -> Any:
    """The body of an answer that made something; fails the test if it did not."""
    assert response.status_code == status, response.text
    return response.json()


async def create_project(
    client: httpx.AsyncClient, who: Creator, slug: str = "course", **fields: object
) -> dict[str, Any]:
    """A course project of `who`'s, named as its slug unless `fields` say otherwise."""
    body = {"slug": slug, "name": slug, "project_type": "course", **fields}
    return created(await client.post("/v1/projects", headers=who.headers, json=body))


async def new_project(
    client: httpx.AsyncClient, who: Creator, slug: str = "course", **fields: object
) -> str:
    """The id of a new course project (`create_project`), for tests that need no more."""
    return str((await create_project(client, who, slug, **fields))["id"])


def lesson(project_id: str, slug: str = "1-1-intro", **fields: object) -> dict[str, Any]:
    """The body of a course lesson in a project."""
    return {"project_id": project_id, "slug": slug, "title": "1.1 Introdução",
            "content_type": "course_lesson", "content": "# Olá\n", **fields}  # fmt: skip


async def create_content(
    client: httpx.AsyncClient, who: Creator, project_id: str, slug: str = "1-1-intro",
    **fields: object,
) -> dict[str, Any]:  # fmt: skip
    """A lesson (`lesson`) in a project of `who`'s."""
    body = lesson(project_id, slug, **fields)
    return created(await client.post("/v1/contents", headers=who.headers, json=body))


async def put_tree(
    client: httpx.AsyncClient, who: Creator, project: str, nodes: list[dict[str, Any]],
    prune: bool = False,
) -> httpx.Response:  # fmt: skip
    """PUT a project's tree; the answer, for tests of what it answers."""
    return await client.put(
        f"/v1/projects/{project}/tree", headers=who.headers, json={"nodes": nodes, "prune": prune}
    )


async def write_tree(
    client: httpx.AsyncClient, who: Creator, project: str, nodes: list[dict[str, Any]]
) -> dict[str, Any]:
    """A project's tree, written (`put_tree`); the tree the API answered."""
    return created(await put_tree(client, who, project, nodes), 200)


async def grant_persona(
    client: httpx.AsyncClient, owner: Creator, grantee: Creator
) -> dict[str, Any]:
    """`owner` lets `grantee`'s projects name its mind as persona."""
    url = f"/v1/me/persona-grants/{grantee.mind_id}"
    return created(await client.put(url, headers=owner.headers))


AUDIENCE = {
    "slug": "devs-br",
    "name": "Devs brasileiros",
    "technical_level": "intermediate",
    "demographics": {"country": "BR", "age_range": "25-40"},
    "psychographics": {"goals": ["ship faster"]},
    "learning_preferences": {"formats": ["video", "hands-on"]},
}


async def create_audience(
    client: httpx.AsyncClient, who: Creator, **fields: object
) -> dict[str, Any]:
    """An audience of `who`'s: AUDIENCE, with `fields` over it."""
    body = {**AUDIENCE, **fields}
    return created(await client.post("/v1/audiences", headers=who.headers, json=body))


async def publish(client: httpx.AsyncClient, who: Creator, content_id: str) -> dict[str, Any]:
    """A content of `who`'s, moved through review to published (its project
    becomes a public course page)."""
    for status in ("reviewed", "published"):
        response = await client.patch(
            f"/v1/contents/{content_id}", headers=who.headers, json={"status": status}
        )
    return created(response, 200)


async def public_course(
    client: httpx.AsyncClient, who: Creator, slug: str = "course"
) -> tuple[str, dict[str, Any]]:
    """A project of `who`'s with one published lesson: (project id, lesson)."""
    project = await new_project(client, who, slug)
    lesson_row = await create_content(client, who, project)
    return project, await publish(client, who, lesson_row["id"])
