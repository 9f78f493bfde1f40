"""Layouts and files the fixtures do not have: programs of tracks, version
folders, WebVTT, module summaries beside their folder, curriculum shapes,
encodings with a BOM, files the API cannot take, empty folders."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from creatoros_client import EmptyCourseFolder, read_course, read_courses
from creatoros_client._text import MAX_FILE_BYTES
from creatoros_client.course import CoursePlan, walk
from creatoros_client.models import TreeNodeIn


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes(content)
    return root


def shape(plan: CoursePlan) -> list[tuple[str, list[str | None]]]:
    """Each child of the outline: its title and its children's files."""
    return [(n.title, [c.file_path for c in n.children]) for n in plan.nodes[0].children]


def by_path(plan: CoursePlan) -> dict[str, TreeNodeIn]:
    return {n.file_path: n for n in walk(plan.nodes) if n.file_path}


def test_a_program_is_one_plan_per_track_linked_by_metadata(tmp_path: Path) -> None:
    program = write(
        tmp_path / "Programa Lendário",
        {
            "MANUAL.md": "# Programa Lendário\nComo usar as trilhas.\n",
            "trilha-1-fundamentos/aulas/modulo-01/aula-1.1-intro.md": "# Intro\n",
            "trilha-1-fundamentos/aulas/modulo-01/aula-1.2-base.md": "# Base\n",
            "trilha-10-avancado/aula_01_abertura.txt": "Olá, bem-vindo.\n",
            "trilha-2-ferramentas/lessons/1.1-ferramentas.md": "# Ferramentas\n",
            "trilha-2-ferramentas/README.md": "# Trilha 2: Ferramentas\n",
        },
    )
    plans = read_courses(program)
    assert [p.slug for p in plans] == ["trilha-1-fundamentos", "trilha-2-ferramentas",
                                       "trilha-10-avancado"]  # fmt: skip
    assert [p.project.project_metadata["program"] for p in plans] == [
        {"slug": "programa-lendario", "title": "Programa Lendário", "track": n} for n in (1, 2, 10)
    ]
    assert [len(p.lessons()) for p in plans] == [2, 1, 1]
    assert plans[1].project.name == "Trilha 2: Ferramentas"
    # Paths are relative to the track; the program's manual is in every track.
    assert "aulas/modulo-01/aula-1.1-intro.md" in by_path(plans[0])
    for plan in plans:
        manual = [n for n in walk(plan.nodes) if n.metadata.get("program_file") == "MANUAL.md"]
        assert len(manual) == 1 and manual[0].file_path is None
        assert manual[0].content == "# Programa Lendário\nComo usar as trilhas.\n"
    # Reading a track alone gives the same course (and slug), without the program.
    alone = read_course(program / "trilha-2-ferramentas")
    assert alone.slug == plans[1].slug and "program" not in alone.project.project_metadata
    # read_course on the program says what read_courses would do.
    assert read_course(program).warnings[0].startswith(".: a program of 3 tracks")


def test_the_newest_version_holds_the_lessons_the_older_are_kept(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "curso",
        {
            "v1-rascunho/modulo-1-intro/aula-1-ola.md": "# Olá (v1)\n",
            "v1-rascunho/modulo-2-pratica/aula-1-fazer.md": "# Fazer (v1)\n",
            "v2-revisado/modulo-1-intro/aula-1-ola.md": "# Olá\n",
            "v2-revisado/modulo-1-intro/aula-2-tchau.md": "# Tchau\n",
            "v2-revisado/modulo-2-pratica/aula-10-fim.md": "# Fim\n",
            "v2-revisado/modulo-2-pratica/aula-2-meio.md": "# Meio\n",
        },
    )
    plan = read_course(folder)
    assert shape(plan) == [
        ("Módulo 1", ["v2-revisado/modulo-1-intro/aula-1-ola.md",
                      "v2-revisado/modulo-1-intro/aula-2-tchau.md"]),
        ("Módulo 2", ["v2-revisado/modulo-2-pratica/aula-2-meio.md",
                      "v2-revisado/modulo-2-pratica/aula-10-fim.md"]),
    ]  # fmt: skip
    older = [n for n in walk(plan.nodes) if n.metadata.get("kind") == "older_version"]
    assert sorted(n.file_path or "" for n in older) == [
        "v1-rascunho/modulo-1-intro/aula-1-ola.md",
        "v1-rascunho/modulo-2-pratica/aula-1-fazer.md",
    ]
    assert all(n.content_type == "other" and n.metadata["version"] == 1 for n in older)
    assert {n.metadata["version"] for n in plan.lessons()} == {2}


def test_webvtt_and_module_summaries_beside_their_folder(tmp_path: Path) -> None:
    vtt = "WEBVTT\r\n\r\n00:00:00.000 --> 00:00:02.000\r\nOlá!  \r\n"
    folder = write(
        tmp_path / "videos",
        {
            "aulas/modulo-01-comeco.md": "# Módulo 1: Começo\nResumo.\n",
            "aulas/modulo-01/01-abertura.vtt": vtt,
            "aulas/modulo-01/02-segunda.txt": "Transcrição simples.\n",
            "aulas/modulo-02/aula-1.md": "# Uma\n",
            "aulas/modulo-03-sem-aulas.md": "# Módulo 3\n",
        },
    )
    plan = read_course(folder)
    modules = plan.nodes[0].children
    assert [(m.title, m.file_path) for m in modules] == [
        ("Módulo 1: Começo", "aulas/modulo-01-comeco.md"),
        ("Módulo 2", None),
    ]
    assert modules[0].content == "# Módulo 1: Começo\nResumo.\n"
    first, second = modules[0].children
    assert first.content == vtt  # cues, timings, CRLF and trailing spaces as they are
    assert (first.metadata["format"], second.metadata["format"]) == ("vtt", "text")
    assert first.content_type == second.content_type == "course_lesson"
    # A summary of a module with no lessons stays a document.
    assert by_path(plan)["aulas/modulo-03-sem-aulas.md"].content_type == "other"


@pytest.mark.parametrize(
    ("yaml_text", "title", "warns"),
    [
        ("title: Curso\nlessons: 12\n", "Curso", "says 12 lessons; 2 lesson files found"),
        ("course:\n  name: Pelo Nome\n", "Pelo Nome", None),
        ("curso:\n  nome: Em Português\nmodulos:\n  - titulo: Primeiro\n", "Em Português", None),
        ("titulo: Só Título\nlessons: {'1.1': Um, '1.9': Falta}\n", "Só Título", "lesson 1.9"),
        ("- just\n- a list\n", "folder", "not a mapping of course fields"),
        ("title: [unclosed\n", "folder", "malformed YAML"),
        ("modules: 3\nlessons: true\n", "folder", "lessons: a bool, not a list"),
        ("name: 42\nmodules: {m1: {lessons: 2}}\n", "42", None),
        ("a: &a [*a]\ntitle: Ciclo\n", "Ciclo", None),
        ('title: "nul\\0here"\n', "nul\\u0000here", None),
    ],
)
def test_any_curriculum_shape(
    tmp_path: Path, yaml_text: str, title: str, warns: str | None
) -> None:
    folder = write(
        tmp_path / "folder",
        {
            "curriculum.yaml": yaml_text,
            "lessons/1.1-um.md": "# Um\n",
            "lessons/1.2-dois.md": "# Dois\n",
        },
    )
    plan = read_course(folder)
    assert plan.project.name == title
    assert len(plan.lessons()) == 2
    if warns:
        assert any(warns in w for w in plan.warnings), plan.warnings
    else:
        assert plan.warnings == []
    assert by_path(plan)["curriculum.yaml"].content == yaml_text


def test_title_from_the_brief_when_no_curriculum(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "pasta",
        {"COURSE-BRIEF.md": "intro\n# **O Título**\n", "README.md": "# Outro\n"},
    )
    plan = read_course(folder)
    assert plan.project.name == "O Título"
    assert plan.warnings == [
        ".: no lessons found (looked for lessons/ or aulas/ folders, module folders, "
        "and aula_NN_…, MN-AULAK-…, N.M-… files); the files are kept as documents"
    ]


def test_encodings_boms_and_what_the_api_cannot_take(tmp_path: Path) -> None:
    text = "# Ação\r\nVocê está aqui.\r\n"
    folder = write(
        tmp_path / "enc",
        {
            "lessons/1.1-bom.md": codecs.BOM_UTF8 + text.encode(),
            "lessons/1.2-utf16.md": text.encode("utf-16"),
            "lessons/1.3-mac.md": text.encode("mac_roman"),
            "lessons/1.4-nul.md": b"# a\x00b\n",
            "lessons/1.5-huge.md": b"a" * (MAX_FILE_BYTES + 1),
            "lessons/1.6-image.png": b"\x89PNG\r\n\x1a\n",
            "lessons/1.7-random.md": bytes(range(256)) * 4,
        },
    )
    plan = read_course(folder)
    nodes = by_path(plan)
    for rel in ("lessons/1.1-bom.md", "lessons/1.2-utf16.md", "lessons/1.3-mac.md"):
        assert nodes[rel].content == text, rel
        assert nodes[rel].title == "Ação"
    assert nodes["lessons/1.1-bom.md"].metadata.get("bom") is True
    assert "encoding" not in nodes["lessons/1.1-bom.md"].metadata
    assert nodes["lessons/1.2-utf16.md"].metadata["encoding"] == "utf-16-le"
    assert nodes["lessons/1.3-mac.md"].metadata["encoding"] == "mac-roman"
    reasons = {s.path: s.reason for s in plan.skipped}
    assert set(reasons) == {"lessons/1.4-nul.md", "lessons/1.5-huge.md", "lessons/1.6-image.png",
                            "lessons/1.7-random.md"}  # fmt: skip
    assert "NUL" in reasons["lessons/1.4-nul.md"]
    assert reasons["lessons/1.5-huge.md"].startswith("too large")
    assert reasons["lessons/1.6-image.png"].startswith("unsupported type (.png)")
    assert reasons["lessons/1.7-random.md"].startswith(("binary", "contains NUL"))
    assert all(f"{p}: {r}; skipped" in plan.warnings for p, r in reasons.items())


def test_an_empty_folder_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "vazio"
    (folder / "lessons" / "modulo-1").mkdir(parents=True)
    for read in (read_course, read_courses):
        with pytest.raises(EmptyCourseFolder, match="vazio"):
            read(folder)
    with pytest.raises(NotADirectoryError):
        read_courses(tmp_path / "missing")
    (folder / "lessons" / "modulo-1" / "x.md").write_text("")
    plan = read_course(folder)
    assert [n.file_path for n in plan.lessons()] == ["lessons/modulo-1/x.md"]
    assert "lessons/modulo-1/x.md: empty file; imported empty" in plan.warnings


def test_natural_order_and_odd_names(tmp_path: Path) -> None:
    names = ["aula_10_fim.md", "aula_2_meio.md", "aula_1_início.md", "aula_3 100% útil.md"]
    folder = write(tmp_path / "Curso %", {n: f"# {n}\n" for n in names})
    plan = read_course(folder)
    assert plan.slug == "curso"
    assert [n.file_path for n in plan.lessons()] == [
        "aula_1_início.md", "aula_2_meio.md", "aula_3 100% útil.md", "aula_10_fim.md"
    ]  # fmt: skip
    assert [n.sequence_order for n in plan.lessons()] == [1, 2, 3, 4]
