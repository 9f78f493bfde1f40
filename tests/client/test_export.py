"""`creatoros-client export`: projects back as course folders, and the round
trip import → export → import on the real fixture folders."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from typer.testing import CliRunner

from creatoros_client import Client
from creatoros_client import models as m
from creatoros_client.cli import app as cli
from creatoros_client.cli import read_courses
from creatoros_client.course import walk
from creatoros_client.export import course_files, safe_relative, write_files
from tests.client.conftest import LiveServer
from tests.factories import Creator
from tests.trees.courses import FIXTURES

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def fixture_folders() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir())


def imported_files(folder: Path) -> set[str]:
    """The files the reader took in as a node or a research entry."""
    found: set[str] = set()
    for plan in read_courses(folder):
        base = Path(plan.folder).relative_to(folder)
        found |= {(base / n.file_path).as_posix() for n in walk(plan.nodes) if n.file_path}
        found |= {(base / r.source_file).as_posix() for r in plan.research}
    return found


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_import_export_gives_the_files_back_and_reimport_changes_nothing(
    live: LiveServer, alice: Creator, tmp_path: Path
) -> None:
    folders = fixture_folders()
    common = ["--api", live.url, "--token", alice.token]
    outbox = ["--outbox", str(tmp_path / "o.db")]
    code, out = run("import", *map(str, folders), *common, *outbox, "--json")
    assert code == 0, out
    slugs = [c["slug"] for c in json.loads(out)["courses"]]
    assert len(slugs) >= len(folders)

    exported = tmp_path / "out"
    code, out = run("export", *slugs, *common, "--out", str(exported))
    assert code == 0, out
    compared = 0
    for folder in folders:
        for rel in sorted(imported_files(folder)):
            original = (folder / rel).read_bytes()
            if not is_utf8(original):
                continue  # decoded from a code page: its text comes back, as UTF-8 today
            copy = exported / folder.name / rel
            assert copy.is_file(), f"{folder.name}/{rel} was not exported"
            assert copy.read_bytes() == original, f"{folder.name}/{rel} differs"
            compared += 1
    assert compared > 150

    # Exporting again writes nothing; importing the export changes nothing.
    code, out = run("export", *slugs, *common, "--out", str(exported), "--json")
    assert code == 0, out
    assert {p["written"] for p in json.loads(out)["projects"]} == {0}
    again = [str(exported / f.name) for f in folders]
    code, out = run("import", *again, *common, *outbox, "--json")
    assert code == 0, out
    for course in json.loads(out)["courses"]:
        assert course["status"] == "saved" and course["project"] == "unchanged", course
        assert course["nodes"]["created"] == course["nodes"]["updated"] == 0, course
        assert course["research"]["created"] == course["research"]["updated"] == 0, course


def test_paths_out_of_the_folder_are_refused(
    live: LiveServer, alice: Creator, tmp_path: Path
) -> None:
    with Client(live.url, token=alice.token) as api:
        project = api.projects.upsert_by_slug(
            "hostile",
            {"name": "Hostile", "project_type": "course",
             "project_metadata": {"source": {"folder": "../../up"}}},
        )  # fmt: skip
        nodes = [
            m.TreeNodeIn(slug=f"n{i}", title=path, content_type="other", content="x",
                         file_path=path)
            for i, path in enumerate(["ok/fine.md", "../escape.md", "/tmp/abs.md",
                                      "a/../../b.md", "C:/win.md", "back\\slash.md"])
        ]  # fmt: skip
        api.trees.put(project.id, nodes)
        api.market_research.create(
            {"research_type": "other", "body": "r",
             "report_data": {"source_file": "../../report.md"}},
            project_id=project.id,
        )  # fmt: skip
    out = tmp_path / "deep" / "out"
    code, output = run("export", "hostile", "--api", live.url, "--token", alice.token,
                       "--out", str(out), "--json")  # fmt: skip
    assert code == 1, output
    result = json.loads(output)["projects"][0]
    assert result["folder"] == str(out / "hostile")  # the unsafe folder name: the slug instead
    assert sorted(result["refused_paths"]) == sorted(
        ["../escape.md", "/tmp/abs.md", "a/../../b.md", "C:/win.md", "back\\slash.md",
         "../../report.md"]
    )  # fmt: skip
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.md"))
    assert written == ["deep/out/hostile/ok/fine.md"]


def test_unknown_slugs_are_refused_and_the_rest_exported(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    common = ["--api", live.url, "--token", alice.token]
    run("import", str(courses / "prompt-engineer"), *common, "--outbox", str(tmp_path / "o"))
    code, out = run("export", "nope", "prompt-engineer", *common, "--out", str(tmp_path / "x"))
    assert code == 1
    assert "nope: refused: no project with slug 'nope'" in out
    assert "prompt-engineer: exported" in out
    assert (tmp_path / "x" / "prompt-engineer" / "curriculum.yaml").is_file()

    code, out = run("export", "prompt-engineer", "--api", live.url, "--token", "expired",
                    "--out", str(tmp_path / "y"))  # fmt: skip
    assert code == 1 and "creatoros token --user" in out


def node(path: str | None, content: str, **metadata: object) -> m.TreeNode:
    return m.TreeNode.model_validate(
        {"id": "00000000-0000-0000-0000-000000000001", "slug": "s", "title": "t",
         "content_type": "other", "status": None, "sequence_order": 1, "fidelity_score": None,
         "file_path": path, "metadata": metadata, "content": content, "children": []}
    )  # fmt: skip


def tree_of(*nodes: m.TreeNode) -> m.ContentTree:
    return m.ContentTree.model_construct(project=None, nodes=list(nodes))


def test_bodies_are_written_as_the_reader_read_them() -> None:
    files, refused, warnings = course_files(
        tree_of(
            node("bom.md", "# Olá\r\n", bom=True),
            node("plain.md", "# Olá\n"),
            node("latin.md", "ação", encoding="cp1252"),
            node("greek.md", "αβγ", encoding="cp1252"),  # no longer fits its code page
            node(None, "a module has no file"),
            node("plain.md", "a second node at the same path"),
        ),
        [],
    )
    assert files[PurePosixPath("bom.md")] == b"\xef\xbb\xbf# Ol\xc3\xa1\r\n"
    assert files[PurePosixPath("plain.md")] == "# Olá\n".encode()
    assert files[PurePosixPath("latin.md")] == "ação".encode("cp1252")
    assert files[PurePosixPath("greek.md")] == "αβγ".encode()
    assert refused == []
    assert any(w.startswith("greek.md: not representable in cp1252") for w in warnings)
    assert any(w.startswith("plain.md: already written") for w in warnings)


def test_safe_paths_and_symlinks(tmp_path: Path) -> None:
    assert safe_relative("lessons/1.1 intro.md") == PurePosixPath("lessons/1.1 intro.md")
    assert safe_relative("./a.md") == PurePosixPath("a.md")
    for bad in ("", "/a", "../a", "a/../../b", "C:/x", "c:x", "a\\b", ".", "a\x00"):
        assert safe_relative(bad) is None, bad
    root = tmp_path / "course"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    written, unchanged, refused = write_files(
        root, {PurePosixPath("link/x.md"): b"x", PurePosixPath("ok.md"): b"y"}
    )
    assert (written, unchanged, refused) == (1, 0, ["link/x.md"])
    assert list(outside.iterdir()) == []
