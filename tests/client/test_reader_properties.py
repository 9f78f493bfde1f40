"""Property-based: generated course folders of every layout the reader knows,
with odd names, empty, huge and random files, text in several encodings and
curricula of any shape (invalid too). Whatever the folder, the reader does not
raise (but for an empty folder), accounts for every file, gives the API what
its own schemas accept, and stores text an export can write back byte for
byte."""

from __future__ import annotations

import codecs
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.projects.schemas import ProjectUpsert as ServerProjectUpsert
from app.research.schemas import MarketResearchCreate
from app.trees.schemas import TreeUpsert
from app.trees.shape import tree_errors
from creatoros_client import EmptyCourseFolder, read_courses
from creatoros_client._text import MAX_FILE_BYTES
from creatoros_client.course import CoursePlan, walk

ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "mac_roman", "latin-1", "utf-16")
BOMS = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-le": codecs.BOM_UTF32_LE,
        "utf-32-be": codecs.BOM_UTF32_BE}  # fmt: skip

name_chars = st.sampled_from("abcxyzABC019 %-_.çãéÉÓõ€ü#&()[]{}'+=@~")
odd_word = st.one_of(
    st.text(name_chars, min_size=1, max_size=24),
    st.just("x" * 150),  # long
    st.just("Módulo Avançado — ção " * 4),  # long, accented (3 bytes a dash)
).filter(lambda s: s not in (".", "..") and s.strip(" ") != "")

prose = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=200,
)
portuguese = st.sampled_from(
    ["# Aula\nMotivação, duração, você não está só.\n", "Olá!\r\nÉ fácil.\r\n", "plain ascii\n"]
)


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["text", "text", "text", "empty", "huge", "random", "nul"]))
    if kind == "empty":
        return b""
    if kind == "huge":
        return b"a" * (MAX_FILE_BYTES + draw(st.integers(1, 100)))
    if kind == "random":
        return draw(st.binary(min_size=1, max_size=300))
    if kind == "nul":
        return b"ok\x00ko"
    text = draw(st.one_of(prose, portuguese))
    encoding = draw(st.sampled_from(ENCODINGS))
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")


YAML_KEYS = ["title", "name", "titulo", "nome", "course", "curso", "modules", "modulos",
             "lessons", "aulas", "id", "file", "x"]  # fmt: skip
BROKEN_YAML = ["title: [unclosed\n", "a: &a [*a]\n", "::\n- - :\n\tx", "lessons: 12\n",
               "curso:\n  nome: Só\n", "modules: {m1: 3}\n"]  # fmt: skip
yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), prose),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(YAML_KEYS), inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def curricula(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["dump", "dump", "garbage", "bytes"]))
    if kind == "dump":
        return yaml.safe_dump(draw(yaml_values), allow_unicode=True).encode()
    if kind == "garbage":
        return draw(st.sampled_from(BROKEN_YAML)).encode()
    return draw(st.binary(max_size=100))


@st.composite
def lesson_paths(draw: st.DrawFn) -> list[str]:
    """Lesson-like paths in one of the layouts the reader recognises."""
    layout = draw(st.sampled_from(["flat", "modules", "aulas", "aula_nn", "m_aula", "versions"]))
    n = draw(st.integers(1, 4))
    words = [draw(odd_word) for _ in range(n)]
    ext = draw(st.sampled_from([".md", ".txt", ".vtt", ".md"]))
    modules = [draw(st.integers(0, 12)) for _ in range(n)]
    orders = [draw(st.integers(0, 30)) for _ in range(n)]
    out = []
    for w, m, k in zip(words, modules, orders, strict=True):
        if layout == "flat":
            out.append(f"lessons/{m}.{k}-{w}{ext}")
        elif layout == "modules":
            out.append(f"lessons/modulo-{m}/{k}-{w}{ext}")
        elif layout == "aulas":
            out += [f"aulas/modulo-{m:02d}/aula-{m}.{k}-{w}{ext}", f"aulas/modulo-{m:02d}-{w}.md"]
        elif layout == "aula_nn":
            out.append(f"aula_{k:02d}_{w}{ext}")
        elif layout == "m_aula":
            out.append(f"M{m}-AULA{k}-{w}{ext}")
        else:
            version = draw(st.integers(1, 3))
            out.append(f"v{version}-{w}/modulo-{m}-{w}/aula-{k}{ext}")
    return out


@st.composite
def course_files(draw: st.DrawFn) -> dict[str, bytes]:
    files = {path: draw(contents()) for path in draw(lesson_paths())}
    extras = draw(st.lists(st.tuples(st.sampled_from(["", "research/", "resources/", "x y/z%/"]),
                                     odd_word, contents()), max_size=4))  # fmt: skip
    for folder, word, data in extras:
        files[f"{folder}{word}"] = data
    if draw(st.booleans()):
        files["curriculum.yaml"] = draw(curricula())
    return files


@st.composite
def folders(draw: st.DrawFn) -> dict[str, bytes]:
    kind = draw(st.sampled_from(["course", "course", "course", "program", "empty"]))
    if kind == "empty":
        return {}
    if kind == "course":
        return draw(course_files())
    files: dict[str, bytes] = {}
    for track in range(1, draw(st.integers(2, 3)) + 1):
        name = f"trilha-{track}-{draw(odd_word)}"
        files.update({f"{name}/{rel}": data for rel, data in draw(course_files()).items()})
    files.update({draw(odd_word): draw(contents()) for _ in range(draw(st.integers(0, 2)))})
    return files


def materialise(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    """Write what can be written (a name may clash with a folder); return it."""
    written: dict[str, bytes] = {}
    for rel, data in files.items():
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                continue
            path.write_bytes(data)
        except (NotADirectoryError, FileExistsError, OSError):
            continue
        written[rel] = data
    # A later file may have replaced a folder's place: keep only what is there.
    return {rel: data for rel, data in written.items() if (root / rel).is_file()}


def stored_bytes(content: str | None, metadata: dict[str, Any]) -> bytes:
    encoding = metadata.get("encoding", "utf-8")
    bom = BOMS[codecs.lookup(encoding).name] if metadata.get("bom") else b""
    return bom + (content or "").encode(encoding)


def check_api_accepts(plan: CoursePlan) -> None:
    """The plan as the server's own request models and tree rules take it."""
    body = json.loads(json.dumps(plan.model_dump(mode="json"), allow_nan=False))
    tree = TreeUpsert.model_validate({"nodes": body["nodes"]})
    assert tree_errors(tree.nodes) == []
    ServerProjectUpsert.model_validate(body["project"])
    for entry in plan.research:
        MarketResearchCreate.model_validate(entry.create_body())


def under(path: str, folders: set[str]) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=folders())
def test_any_folder_is_read_and_every_file_accounted_for(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "curso gerado"
        root.mkdir()
        on_disk = materialise(root, files)
        if not on_disk:
            with pytest.raises(EmptyCourseFolder, match="curso gerado"):
                read_courses(root)
            return
        plans = read_courses(root)
        assert plans
        for plan in plans:
            check_api_accepts(plan)
        tracks = [Path(p.folder) for p in plans if Path(p.folder) != root]
        for rel, data in on_disk.items():
            path = root / rel
            plan = next((p for p in plans if path.is_relative_to(p.folder)), None)
            if plan is None:
                assert tracks, f"{rel}: in no plan's folder"
                continue  # a program's own file: below
            inner = path.relative_to(plan.folder).as_posix()
            nodes = [n for n in walk(plan.nodes) if n.file_path == inner]
            reports = [r for r in plan.research if r.source_file == inner]
            skipped = under(inner, {s.path for s in plan.skipped})
            assert len(nodes) + len(reports) + skipped == 1, (rel, plan.skipped)
            for node in nodes:
                assert stored_bytes(node.content, node.metadata) == data, rel
            for report in reports:
                assert stored_bytes(report.body, report.report_data) == data, rel
        # The program's own files (not in a track) are in every track's plan.
        for rel, data in on_disk.items():
            if tracks and not any((root / rel).is_relative_to(t) for t in tracks):
                for plan in plans:
                    kept = [n for n in walk(plan.nodes) if n.metadata.get("program_file") == rel]
                    skipped = {s.path for s in plan.skipped}
                    assert len(kept) + (f"../{rel}" in skipped) == 1, rel
                    for node in kept:
                        assert stored_bytes(node.content, node.metadata) == data
