"""Course versions through the importer (issue 23's Must show): a re-import
that changes three lessons is one revision of three changes, the old tree
reads back byte for byte, a restore gives it back as a new revision, a
re-import that changes nothing records nothing, and nobody else sees any of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from creatoros_client import CreatorOS
from creatoros_client.cli import app as cli
from tests.client.conftest import LiveServer
from tests.factories import Creator, bearer

runner = CliRunner()


def revisions(live: LiveServer, who: Creator, project_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{live.url}/v1/projects/{project_id}/revisions", headers=who.headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def tree(live: LiveServer, who: Creator, project_id: str, **params: Any) -> httpx.Response:
    answer = httpx.get(
        f"{live.url}/v1/projects/{project_id}/tree",
        params={"include_body": "true", **params},
        headers=who.headers,
    )
    assert answer.status_code == 200, answer.text
    return answer


def count_nodes(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + count_nodes(node["children"]) for node in nodes)


def change_three_lessons(folder: Path) -> list[Path]:
    lessons = sorted((folder / "lessons").rglob("*.md"))[:3]
    for path in lessons:
        path.write_text(path.read_text(encoding="utf-8") + "\nUma linha nova.\n", encoding="utf-8")
    return lessons


def test_a_reimport_of_three_changed_lessons_is_one_revision_and_the_old_tree_reads_back(
    live: LiveServer, alice: Creator, bob: Creator, courses: Path, tmp_path: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=tmp_path / "outbox.sqlite3")
    folder = courses / "claude-code"
    assert api.save_course(folder).status == "saved"
    project_id = str(api.projects.list(slug="claude-code").items[0].id)
    first = tree(live, alice, project_id)
    [one] = revisions(live, alice, project_id)
    assert one["number"] == 1 and one["summary"] == f"{one['added']} added"
    assert one["added"] == count_nodes(first.json()["nodes"])
    assert str(one["mind_id"]) == str(alice.mind_id) and one["user_id"] == str(alice.user_id)
    assert one["request_id"]

    change_three_lessons(folder)
    assert api.save_course(folder).status == "saved"
    latest, earlier = revisions(live, alice, project_id)
    assert earlier == one
    assert latest["number"] == 2 and latest["summary"] == "3 changed"
    assert (latest["added"], latest["changed"], latest["moved"], latest["removed"]) == (0, 3, 0, 0)

    # The tree as it was: byte for byte the first import's answer.
    old = tree(live, alice, project_id, revision=1)
    assert old.content == first.content
    assert old.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert old.headers["etag"] == first.headers["etag"]
    live_tree = tree(live, alice, project_id).content
    assert tree(live, alice, project_id, revision=2).content == live_tree
    assert live_tree != first.content

    # Nothing changed on disk: nothing recorded.
    assert api.save_course(folder).status == "saved"
    assert len(revisions(live, alice, project_id)) == 2

    # Restored: a new revision, and the first import's tree again.
    restored = httpx.post(
        f"{live.url}/v1/projects/{project_id}/revisions/1/restore", headers=alice.headers
    )
    assert restored.status_code == 201, restored.text
    assert restored.json()["number"] == 3 and restored.json()["summary"] == "3 changed"
    assert restored.json()["note"] == "restored revision 1"
    assert tree(live, alice, project_id).content == first.content
    assert tree(live, alice, project_id, revision=3).content == first.content
    assert len(revisions(live, alice, project_id)) == 3


def test_another_tenant_and_anon_see_no_revision_diff_or_restore(
    live: LiveServer, alice: Creator, bob: Creator, courses: Path, tmp_path: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=tmp_path / "outbox.sqlite3")
    assert api.save_course(courses / "github-essencial").status == "saved"
    project_id = str(api.projects.list(slug="github-essencial").items[0].id)
    base = f"{live.url}/v1/projects/{project_id}"
    for headers in (bob.headers, {}):
        for answer in (
            httpx.get(f"{base}/tree", params={"revision": 1}, headers=headers),
            httpx.get(f"{base}/revisions", headers=headers),
            httpx.get(f"{base}/revisions/1", headers=headers),
            httpx.get(f"{base}/diff", params={"from": 1, "to": 1}, headers=headers),
            httpx.post(f"{base}/revisions/1/restore", headers=headers),
        ):
            # Signed in: as if the project did not exist; anon: sign in first
            # (the tree read is public, so it answers 404 too).
            public_read = answer.request.url.path.endswith("/tree")
            expected = 404 if headers or public_read else 401
            assert answer.status_code == expected, (answer.request.url, answer.text)
    assert httpx.get(f"{base}/revisions", headers=bearer(alice.token)).status_code == 200


def test_the_client_and_the_cli_list_diff_and_restore_and_the_import_names_its_revision(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    folder = courses / "prompt-engineer"
    args = ["--api", live.url, "--token", alice.token, "--outbox", str(tmp_path / "o.sqlite3")]
    imported = runner.invoke(cli, ["import", str(folder), *args, "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)["courses"][0]["revision"] == 1
    [changed] = change_three_lessons(folder)[:1]
    again = runner.invoke(cli, ["import", str(folder), *args, "--json"])
    assert json.loads(again.output)["courses"][0]["revision"] == 2
    unchanged = runner.invoke(cli, ["import", str(folder), *args, "--json"])
    assert json.loads(unchanged.output)["courses"][0]["revision"] is None

    shown = runner.invoke(cli, ["diff", "prompt-engineer", "--from", "1", "--to", "2", *args[:4]])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("revision 1 → 2: 3 node(s)\nchanged ")
    assert "  +Uma linha nova." in shown.output.splitlines()
    assert f"--- {changed.stem}@1\n" in shown.output  # the node's slug, at which revision

    api = CreatorOS(live.url, token=alice.token, outbox=tmp_path / "outbox.sqlite3")
    project = api.projects.list(slug="prompt-engineer").items[0].id
    assert [r.number for r in api.revisions(project).items] == [2, 1]
    assert {n.change for n in api.diff(project, 1, 2).nodes} == {"changed"}
    restored = api.restore(project, 1)
    assert (restored.number, restored.summary) == (3, "3 changed")
    assert api.diff(project, 1, 3).nodes == []
    assert api.revisions.tree(project, 1).tree == api.trees.get(project).tree


def test_a_save_takes_its_revision_from_the_put_and_asks_only_a_server_without_the_header(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    seen: list[httpx.Request] = []
    strip = {"on": False}

    def without_header(response: httpx.Response) -> None:
        if strip["on"]:  # a server that predates Content-Revision
            response.headers.pop("content-revision", None)

    http = httpx.Client(
        base_url=live.url,
        event_hooks={"request": [seen.append], "response": [without_header]},
    )
    api = CreatorOS(live.url, token=alice.token, outbox=tmp_path / "outbox.sqlite3", http=http)
    folder = courses / "claude-code"
    first = api.save_course(folder)
    assert first.revision == 1
    assert not [r for r in seen if r.url.path.endswith("/revisions")]  # no extra request
    change_three_lessons(folder)
    strip["on"] = True
    second = api.save_course(folder)
    assert second.revision == 2
    assert [r.method for r in seen if r.url.path.endswith("/revisions")] == ["GET"]
