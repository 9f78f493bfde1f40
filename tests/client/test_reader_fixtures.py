"""The reader on all seven real course folders in shared/fixtures/courses, as
they are: every lesson file a `course_lesson` in order under its module,
non-UTF-8 lessons with their accents right, every file accounted for and
written back byte for byte from what is stored; then saved through the API,
twice (the second save writes nothing)."""

from __future__ import annotations

import codecs
import re
import shutil
from pathlib import Path

import pytest

from creatoros_client import CreatorOS, read_course, read_courses
from creatoros_client.course import CoursePlan, walk
from creatoros_client.models import TreeNode, TreeNodeIn
from tests.client.conftest import LiveServer
from tests.factories import Creator
from tests.trees.courses import FIXTURES

# Where each folder keeps its lessons, written out here from looking at the
# folders (README of the fixtures), independently of the reader's rules.
LESSON_GLOBS = {
    "claude-code": ["lessons/*.md"],
    "didatica-lendaria": ["lessons/*.md"],
    "github-essencial": ["lessons/*.md"],
    "prompt-engineer": ["lessons/*.md"],
    "Marketing-com-IA-Brand": ["M*-AULA*.md"],
    "eneagrama": ["aula_*-pt-BR.txt"],
    "trilha-2-tecnologia-ferramentas": ["aulas/modulo-*/aula-*.md"],
}
ALL = sorted(LESSON_GLOBS)
# Module summaries: the module node's body.
SUMMARIES = {"trilha-2-tecnologia-ferramentas": "aulas/modulo-*/README.md"}
BOMS = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE}  # fmt: skip


def natural(text: str) -> list[object]:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text)]


def expected_numbering(name: str) -> tuple[str | None, int | None]:
    """(module, lesson) as the file name writes them: `2.3-…`, `aula-4A.1-…`,
    `M1-AULA2-…`, `aula_07_…` (no module)."""
    if match := re.match(r"^(?:aula-)?0*(\d+[A-Z]?)\.(\d+)", name):
        return match.group(1), int(match.group(2))
    if match := re.match(r"^M(\d+)-AULA(\d+)", name):
        return match.group(1), int(match.group(2))
    if match := re.match(r"^aula_(\d+)_", name):
        return None, int(match.group(1))
    return None, None


def expected_lessons(name: str) -> list[str]:
    """The lesson files in the order a reader must give them: modules in
    natural order, numbered lessons by number, unnumbered ones after."""
    folder = FIXTURES / name
    paths = [p.relative_to(folder).as_posix() for g in LESSON_GLOBS[name] for p in folder.glob(g)]

    def key(rel: str) -> tuple[object, ...]:
        module, order = expected_numbering(rel.rsplit("/", 1)[-1])
        return (
            module is None,
            natural(module or ""),
            order is None,
            order or 0,
            natural(rel),
        )

    return sorted(paths, key=key)


def stored_bytes(node: TreeNodeIn | TreeNode) -> bytes:
    """What an export writes for a node: its body in its encoding, BOM first."""
    encoding = node.metadata.get("encoding", "utf-8")
    body = (node.content or "").encode(encoding)
    return (BOMS[codecs.lookup(encoding).name] if node.metadata.get("bom") else b"") + body


def lesson_order(plan: CoursePlan) -> list[tuple[str | None, str]]:
    """(module, file) of each lesson, in tree order."""
    out: list[tuple[str | None, str]] = []
    for child in plan.nodes[0].children:
        if child.content_type == "course_module":
            out += [(str(child.metadata["module"]), c.file_path or "") for c in child.children]
        elif child.content_type == "course_lesson":
            out.append((None, child.file_path or ""))
    return out


@pytest.mark.parametrize("name", ALL)
def test_every_lesson_file_is_a_lesson_in_order_under_its_module(name: str) -> None:
    plans = read_courses(FIXTURES / name)
    assert len(plans) == 1, "a course folder is one plan"
    plan = plans[0]
    assert plan.nodes == read_course(FIXTURES / name).nodes

    wanted = expected_lessons(name)
    assert len(wanted) >= 5, f"{name}: the globs found no lessons"
    got = lesson_order(plan)
    assert [f for _, f in got] == wanted
    for module, rel in got:
        want_module, _ = expected_numbering(rel.rsplit("/", 1)[-1])
        assert module == want_module, f"{rel} under module {module}, not {want_module}"
    assert all(n.content_type == "course_lesson" for n in plan.lessons())
    # Every node is of a type the API's hierarchy allows where it sits.
    outline = plan.nodes[0]
    assert outline.content_type == "course_outline"
    for child in outline.children:
        assert child.content_type in ("course_module", "course_lesson")
        assert all(c.content_type == "course_lesson" for c in child.children)
    for node in plan.nodes[1:]:
        assert {n.content_type for n in walk([node])} == {"other"}


@pytest.mark.parametrize("name", ALL)
def test_every_file_is_accounted_for_and_written_back_byte_for_byte(name: str) -> None:
    folder = FIXTURES / name
    plan = read_course(folder)
    on_disk = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    by_path = {n.file_path: n for n in walk(plan.nodes) if n.file_path}
    reports = {r.source_file: r for r in plan.research}
    skipped = {s.path for s in plan.skipped}
    assert set(by_path) | set(reports) | skipped == set(on_disk)
    assert not (set(by_path) & set(reports)) and not (set(by_path) & skipped)
    for rel, node in by_path.items():
        data = on_disk[rel].read_bytes()
        assert stored_bytes(node) == data, rel
        assert "\ufffd" not in (node.content or ""), f"{rel}: U+FFFD that the file does not hold"
    for rel, report in reports.items():
        assert (report.body or "").encode() == on_disk[rel].read_bytes()
    if summary := SUMMARIES.get(name):
        modules = [n for n in plan.nodes[0].children if n.content_type == "course_module"]
        want = sorted((p.relative_to(folder).as_posix() for p in folder.glob(summary)), key=natural)
        assert [m.file_path for m in modules] == want
        assert all(m.content for m in modules)


def test_non_utf8_lessons_read_with_their_accents() -> None:
    plan = read_course(FIXTURES / "didatica-lendaria")
    by_path = {n.file_path: n for n in plan.lessons()}
    mac = by_path["lessons/2.2-destino-motivacao-real.md"]
    windows = by_path["lessons/5.1-sete-elementos-estrutura-completa.md"]
    assert mac.title == "Aula 2.2: Destino (G) - A Motivação Que Realmente Importa"
    for word in ("Motivação", "Duração", "Módulo", "você", "não"):
        assert word in (mac.content or ""), word
    for word in ("Duração", "Módulo", "você", "não"):
        assert word in (windows.content or ""), word
    assert mac.metadata["encoding"] == "mac-roman"
    assert windows.metadata["encoding"] == "cp1252"
    # The encodings are named in warnings; the UTF-8 lessons have no encoding key.
    assert sum("not valid UTF-8; read as" in w for w in plan.warnings) == 2
    assert sum("encoding" in n.metadata for n in walk(plan.nodes)) == 2
    # The lesson whose name has spaces and a percent sign is there, in order.
    assert "lessons/1.2- Por Que 70% dos Alunos Abandonam Cursos.md" in by_path


def test_transcripts_are_lessons_with_their_cues() -> None:
    plan = read_course(FIXTURES / "eneagrama")
    lessons = plan.lessons()
    assert len(lessons) == 14
    assert all(n.metadata["format"] == "vtt" for n in lessons)  # WebVTT in .txt files
    first = lessons[0]
    assert first.content is not None and first.content.startswith("WEBVTT\n")
    assert "00:00:00.000 --> 00:00:02.980" in first.content
    assert first.title == "Decifre o seu codigo interno"
    assert plan.project.name == "eneagrama"  # no curriculum, brief nor README: the folder


def test_titles_come_from_curriculum_then_readme_then_folder() -> None:
    names = {n: read_course(FIXTURES / n).project.name for n in ALL}
    assert names["prompt-engineer"] == "Prompt Engineering - Arquitetura de Agentes Executivos"
    assert names["github-essencial"] == "GitHub Essencial para Empresarios"  # course.title
    assert names["trilha-2-tecnologia-ferramentas"] == "Trilha 02: Ferramentas e Tecnologia com IA"
    assert names["Marketing-com-IA-Brand"] == "Marketing-com-IA-Brand"


@pytest.fixture
def all_courses(tmp_path: Path) -> Path:
    where = tmp_path / "all"
    for name in ALL:
        shutil.copytree(FIXTURES / name, where / name, symlinks=True)
    return where


def flat(nodes: list[TreeNode]) -> list[TreeNode]:
    out: list[TreeNode] = []
    for node in nodes:
        out.append(node)
        out += flat(node.children)
    return out


def test_seven_folders_saved_through_the_api_then_a_resave_writes_nothing(
    live: LiveServer, alice: Creator, all_courses: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=False)
    plans = [plan for name in ALL for plan in read_courses(all_courses / name)]
    first = {plan.slug: api.save_plan(plan) for plan in plans}
    for plan in plans:
        result = first[plan.slug]
        assert result.status == "saved" and result.project == "created", result
        assert result.nodes.created == len(list(walk(plan.nodes)))
        project = api.projects.list(slug=plan.slug).items[0]
        tree = api.trees.get(project.id, include_body=True).tree
        assert tree is not None
        stored = {n.file_path: n for n in flat(tree.nodes) if n.file_path}
        folder = Path(plan.folder)
        for rel in expected_lessons(folder.name):
            node = stored[rel]
            assert node.content_type == "course_lesson"
            assert stored_bytes(node) == (folder / rel).read_bytes(), rel
        lessons = [n.file_path for n in flat(tree.nodes) if n.content_type == "course_lesson"]
        assert lessons == expected_lessons(folder.name), "the API gives them back in order"

    again = {plan.slug: api.save_plan(plan) for plan in plans}
    for slug, result in again.items():
        assert result.status == "saved" and result.project == "unchanged", result
        assert result.nodes.created == result.nodes.updated == 0
        assert result.nodes.unchanged == first[slug].nodes.created
        assert result.research.created == result.research.updated == 0
        assert result.etag == first[slug].etag
        assert result.changes == []
