"""Reading course folders as they really are: messy ones warn, never crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from creatoros_client import read_course, slugify
from creatoros_client.course import walk


def test_slugs_from_folder_and_file_names() -> None:
    assert slugify("My_Course") == "my-course"
    assert slugify("Módulo 1 — Introdução!") == "modulo-1-introducao"
    assert slugify("1.1-claude-code-nao-e-magia") == "1.1-claude-code-nao-e-magia"
    assert slugify("..BONUS__skills..") == "bonus-skills"
    assert slugify("###") == ""


def test_a_broken_folder_is_warnings_not_a_crash(courses: Path) -> None:
    folder = courses / "github-essencial"
    (folder / "curriculum.yaml").write_text("course:\n  title: [unclosed\n  slug: x\n")
    (folder / "lessons" / "1.4-latin1.md").write_bytes("# Lição em Latin-1\nçã\n".encode("latin-1"))
    (folder / "lessons" / "1.5-empty.md").write_bytes(b"")
    (folder / "research").mkdir()
    (folder / "research" / "keywords.txt").write_text("git, github, versionamento\n")
    (folder / "research" / "escape.md").symlink_to("/etc/hostname")
    (folder / "resources" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")

    plan = read_course(folder)

    warnings = "\n".join(plan.warnings)
    assert "curriculum.yaml: malformed YAML" in warnings
    assert "lessons/1.4-latin1.md: not valid UTF-8; read as cp1252" in warnings
    assert "lessons/1.5-empty.md: empty file" in warnings
    assert "research/escape.md: a symlink out of the course folder" in warnings
    assert "resources/logo.png: unsupported type (.png)" in warnings
    assert len(plan.warnings) == 5
    # What was not imported is listed, with the reason.
    skipped = {s.path: s.reason for s in plan.skipped}
    assert set(skipped) == {"research/escape.md", "resources/logo.png"}
    assert skipped["research/escape.md"].startswith("a symlink out of the course folder")
    # The rest is all there: every lesson file (the broken ones too), the report.
    paths = {n.file_path for n in plan.lessons()}
    assert len(paths) == 17 + 2
    assert "lessons/1.4-latin1.md" in paths and "lessons/1.5-empty.md" in paths
    latin = next(n for n in plan.lessons() if n.file_path == "lessons/1.4-latin1.md")
    assert latin.content == "# Lição em Latin-1\nçã\n"
    assert latin.title == "Lição em Latin-1"
    assert latin.metadata["encoding"] == "cp1252"  # the same bytes as Latin-1 here
    assert [r.source_file for r in plan.research] == ["research/keywords.txt"]
    assert plan.research[0].research_type == "keyword_research"
    # Without a readable curriculum, modules come from the numbering.
    modules = [n for n in plan.nodes[0].children if n.content_type == "course_module"]
    assert [m.title for m in modules] == [f"Módulo {i}" for i in range(5)]
    # The broken curriculum is still kept, verbatim, as a node.
    kept = {n.file_path: n for n in walk(plan.nodes)}
    assert kept["curriculum.yaml"].content == (folder / "curriculum.yaml").read_text()


def test_lessons_under_module_folders(tmp_path: Path) -> None:
    folder = tmp_path / "My_Course"
    (folder / "lessons" / "modulo-2").mkdir(parents=True)
    (folder / "lessons" / "modulo-1").mkdir(parents=True)
    (folder / "lessons" / "modulo-1" / "1.2-b.md").write_text("# B\n")
    (folder / "lessons" / "modulo-1" / "1.1-a.md").write_text("# A\n")
    (folder / "lessons" / "modulo-2" / "intro.md").write_text("# Intro\n")
    (folder / "lessons" / "glossario.md").write_text("# Glossário\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "curriculum.yaml").write_text(
        "modules:\n  - id: module_2\n    title: Dois\n    lessons:\n"
        "      - id: '2.9'\n        title: Falta\n"
    )
    plan = read_course(folder)
    assert plan.slug == "my-course"
    outline = plan.nodes[0]
    shape = [(n.title, [(c.file_path, c.sequence_order) for c in n.children])
             for n in outline.children]  # fmt: skip
    assert shape == [
        ("Módulo 1", [("lessons/modulo-1/1.1-a.md", 1), ("lessons/modulo-1/1.2-b.md", 2)]),
        ("Módulo 2: Dois", [("lessons/modulo-2/intro.md", 1)]),
        ("Glossário", []),
    ]
    assert plan.warnings == [
        "curriculum: lesson 2.9 (Falta) has no lesson file in the folder",
        ".git: version control or cache folder; skipped",
    ]
    assert [(s.path, s.reason) for s in plan.skipped] == [
        (".git", "version control or cache folder")
    ]


def test_not_a_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        read_course(tmp_path / "missing")
