"""Reading a CreatorOS course folder (`outputs/courses/{slug}/`) into a plan:
the project, one content tree and the research reports.

Real folders are messy (see shared/fixtures/courses): `curriculum.yaml` comes
in several shapes, lessons are `N.M-slug.md` flat or under module folders,
bonus and glossary files sit among them, reports are Markdown or text. The
reader keeps everything the folder says — what is not a lesson or a report
becomes a node of its own, the curriculum and `.metadata.json` go into the
project's metadata — and anything it cannot read (malformed YAML, bytes that
are not UTF-8, an empty file, a binary, a symlink out of the folder) is a
warning naming the file, never a crash and never a silent drop.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from creatoros_client.models import ProjectUpsert, TreeNodeIn

LESSON_NAME = re.compile(r"^(\d+)\.(\d+)[-_ ]?(.*)$")
DIGITS = re.compile(r"\d+")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
CURRICULUM_NAMES = ("curriculum.yaml", "curriculum.yml")
METADATA_NAME = ".metadata.json"
OUTLINE_NAMES = ("course-outline.md", "outline.md", "ementa.md")
SKIPPED_FOLDERS = frozenset({".git", ".hg", ".svn", "__pycache__", ".ipynb_checkpoints"})
MAX_TITLE = 500
MAX_SLUG = 200
MAX_ORDER = 32767

# A report's research type, from words in its file name.
RESEARCH_TYPES = (
    ("competit", "competitive_analysis"),
    ("keyword", "keyword_research"),
    ("market", "market_analysis"),
    ("gap", "content_gaps"),
    ("different", "differentiation"),
    ("source", "sources"),
)


def slugify(text: str) -> str:
    """A valid API slug: ASCII lower case, words joined by `-` (dots kept
    between digits and words, as in `1.1-intro`). `My_Course` → `my-course`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9.]+", "-", ascii_text)
    words = re.sub(r"[-.]{2,}", lambda m: "." if set(m.group()) == {"."} else "-", words)
    return words.strip("-.")[:MAX_SLUG].strip("-.")


class ResearchEntry(BaseModel):
    """A report from `research/`, matched on re-save by `report_data.source_file`."""

    source_file: str
    research_type: str
    title: str | None
    body: str | None
    report_data: dict[str, Any]
    # Fixed when the plan is made, so a queued create is replayed, never repeated.
    idempotency_key: str = Field(default_factory=lambda: str(uuid.uuid4()))

    def create_body(self) -> dict[str, Any]:
        return {
            "research_type": self.research_type,
            "title": self.title,
            "body": self.body,
            "report_data": self.report_data,
        }


class CoursePlan(BaseModel):
    """Everything a course folder says, as the API takes it."""

    folder: str
    slug: str
    project: ProjectUpsert
    nodes: list[TreeNodeIn]
    research: list[ResearchEntry]
    warnings: list[str] = Field(default_factory=list)

    def lessons(self) -> list[TreeNodeIn]:
        return [n for n in walk(self.nodes) if n.content_type == "course_lesson"]


def walk(nodes: list[TreeNodeIn]) -> Iterator[TreeNodeIn]:
    for node in nodes:
        yield node
        yield from walk(node.children)


@dataclass
class _File:
    rel: str  # relative to the course folder, with `/`
    text: str


@dataclass
class _Reader:
    root: Path
    warnings: list[str] = field(default_factory=list)

    def warn(self, rel: str, message: str) -> None:
        self.warnings.append(f"{rel}: {message}")

    def files(self) -> list[_File]:
        """Every readable text file, in a stable order; the rest are warnings."""
        found: list[_File] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            base = Path(dirpath)
            for name in list(dirnames):
                if name in SKIPPED_FOLDERS:
                    dirnames.remove(name)
                    self.warn(self._rel(base / name), "version control or cache folder; skipped")
                elif (base / name).is_symlink():
                    dirnames.remove(name)  # os.walk would not follow it anyway: say so
                    self.warn(self._rel(base / name), "a symlinked folder; not followed")
            for name in sorted(filenames):
                read = self._read(base / name)
                if read is not None:
                    found.append(read)
        return found

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read(self, path: Path) -> _File | None:
        rel = self._rel(path)
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(self.root.resolve()):
                self.warn(rel, f"a symlink out of the course folder (to {target}); skipped")
                return None
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.warn(rel, f"cannot be read ({exc.strerror or exc}); skipped")
            return None
        if b"\x00" in data:
            self.warn(rel, "not a text file; skipped")
            return None
        if not data.strip():
            self.warn(rel, "empty file; imported empty")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.warn(
                rel,
                f"not valid UTF-8 (byte {exc.start}); imported with the bad bytes "
                "replaced by U+FFFD",
            )
            text = data.decode("utf-8", errors="replace")
        return _File(rel, text)


def _title_of(text: str) -> str | None:
    for line in text.splitlines():
        match = HEADING.match(line)
        if match:
            return match.group(1).strip()[:MAX_TITLE] or None
    return None


def _jsonable(value: Any) -> Any:
    """YAML dates and other scalars as JSON can hold them, without null members:
    metadata is merged as a JSON Merge Patch, where null means "delete", so a
    null would be stored on the first save and dropped on the next (the file
    itself is kept whole as a node)."""
    return _without_nulls(json.loads(json.dumps(value, default=str)))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _number(value: Any) -> int | None:
    """A module number from `1`, `"1"`, `"module_1"`, `"Módulo 1"`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = DIGITS.search(value)
        return int(match.group()) if match else None
    return None


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if mapping.get(key) not in (None, ""):
            return mapping[key]
    return None


@dataclass
class _Curriculum:
    """What the curriculum says about modules and lessons, whatever its shape."""

    data: dict[str, Any] | None
    modules: dict[int, dict[str, Any]] = field(default_factory=dict)
    lessons_by_file: dict[str, dict[str, Any]] = field(default_factory=dict)
    lessons_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Any) -> _Curriculum:
        if not isinstance(data, dict):
            return cls(None)
        found = cls(data)
        for module in data.get("modules") or []:
            if not isinstance(module, dict):
                continue
            number = _number(_first(module, "module_id", "id", "number", "module_number"))
            if number is not None:
                found.modules[number] = module
            for lesson in module.get("lessons") or []:
                if not isinstance(lesson, dict):
                    continue
                path = _first(lesson, "file_path", "file", "path")
                if isinstance(path, str):
                    found.lessons_by_file[path.lstrip("./")] = lesson
                lesson_id = _first(lesson, "lesson_id", "id")
                if lesson_id is not None:
                    found.lessons_by_id[str(lesson_id)] = lesson
        return found

    def course(self) -> dict[str, Any]:
        """The course's own fields: top level, or under `course:`."""
        if self.data is None:
            return {}
        nested = self.data.get("course")
        return {**self.data, **nested} if isinstance(nested, dict) else self.data

    def lesson_for(self, rel: str, lesson_id: str | None) -> dict[str, Any] | None:
        return self.lessons_by_file.get(rel) or (
            self.lessons_by_id.get(lesson_id) if lesson_id else None
        )


class _Slugs:
    """Unique slugs within the tree (the API matches nodes by slug)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        base = slugify(wanted) or "node"
        slug, n = base, 2
        while slug in self.used:
            slug = f"{base[: MAX_SLUG - 6]}-{n}"
            n += 1
        self.used.add(slug)
        return slug


def read_course(folder: str | os.PathLike[str]) -> CoursePlan:
    """Read a course folder into a plan. Raises only when `folder` is not a
    folder; everything inside it that cannot be used is a warning."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a course folder")
    reader = _Reader(root)
    files = reader.files()
    slug = slugify(root.resolve().name)
    if not slug:
        reader.warn(".", f"the folder name {root.resolve().name!r} gives no slug; using 'course'")
        slug = "course"

    by_rel = {f.rel: f for f in files}
    curriculum = _Curriculum(None)
    metadata: dict[str, Any] = {"source": {"kind": "creatoros-course-folder", "folder": root.name}}
    used: set[str] = set()

    # The curriculum and .metadata.json are read into the project's metadata
    # and also kept verbatim as nodes, like every other file.
    for name in CURRICULUM_NAMES:
        if name in by_rel:
            try:
                docs = [d for d in yaml.safe_load_all(by_rel[name].text) if d is not None]
            except yaml.YAMLError as exc:
                reader.warn(name, f"malformed YAML ({_yaml_problem(exc)}); kept as text only")
                break
            data = docs[0] if len(docs) == 1 else docs
            metadata["curriculum"] = _jsonable(data)
            curriculum = _Curriculum.parse(data)
            if curriculum.data is None:
                reader.warn(name, "not a mapping of course fields; kept as it is")
            break

    folder_meta: dict[str, Any] = {}
    if METADATA_NAME in by_rel:
        try:
            loaded = _jsonable(json.loads(by_rel[METADATA_NAME].text))
            metadata["folder_metadata"] = loaded
            folder_meta = loaded if isinstance(loaded, dict) else {}
        except ValueError as exc:
            reader.warn(METADATA_NAME, f"malformed JSON ({exc}); kept as text only")

    course = curriculum.course()
    persona = folder_meta.get("mmos_persona") or course.get("instructor")
    if persona:
        metadata["persona"] = _jsonable(persona)
    title = _first(course, "title") or _first(folder_meta, "course_title") or root.name
    description = _first(course, "description", "subtitle")

    slugs = _Slugs()
    outline_slug = slugs.take(slug)
    outline = TreeNodeIn(
        slug=outline_slug,
        title=str(title)[:MAX_TITLE],
        content_type="course_outline",
        sequence_order=0,
        metadata={"kind": "course"},
    )
    for name in OUTLINE_NAMES:
        if name in by_rel:
            used.add(name)
            outline.content = by_rel[name].text
            outline.file_path = name
            break

    outline.children = _lessons(files, curriculum, slugs, reader, used)
    research = _research(files, used)
    documents = _documents(files, used, slugs)

    project = ProjectUpsert(
        name=str(title)[:MAX_TITLE],
        project_type="course",
        description=str(description)[:10_000] if description else None,
        project_metadata=metadata,
    )
    return CoursePlan(
        folder=str(root),
        slug=slug,
        project=project,
        nodes=[outline, *documents],
        research=research,
        warnings=reader.warnings,
    )


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def _lessons(
    files: list[_File],
    curriculum: _Curriculum,
    slugs: _Slugs,
    reader: _Reader,
    used: set[str],
) -> list[TreeNodeIn]:
    """Modules and lessons: every Markdown file under `lessons/` is a node."""
    modules: dict[int, list[TreeNodeIn]] = {}
    loose: list[TreeNodeIn] = []
    module_folders: dict[int, str] = {}
    for file in files:
        parts = file.rel.split("/")
        if parts[0] != "lessons" or not file.rel.lower().endswith(".md"):
            continue
        used.add(file.rel)
        stem = parts[-1][:-3]
        match = LESSON_NAME.match(stem)
        folder_number = _number(parts[1]) if len(parts) > 2 else None
        module = int(match.group(1)) if match else folder_number
        order = int(match.group(2)) if match else None
        if match is None and folder_number is None and len(parts) > 2:
            reader.warn(file.rel, "in a folder with no module number; placed at the course level")
        lesson_id = f"{match.group(1)}.{match.group(2)}" if match else None
        known = curriculum.lesson_for(file.rel, lesson_id)
        title = _title_of(file.text) or (_first(known, "lesson_title", "title") if known else None)
        node = TreeNodeIn(
            slug=slugs.take("-".join([*parts[1:-1], stem])),
            title=str(title or stem)[:MAX_TITLE],
            content_type="course_lesson",
            content=file.text,
            file_path=file.rel,
            metadata={
                "source_file": file.rel,
                **({"lesson_id": lesson_id} if lesson_id else {}),
                **({"curriculum": _jsonable(known)} if known else {}),
            },
        )
        if order is not None:
            node.sequence_order = min(order, MAX_ORDER)
        if module is None:
            loose.append(node)
        else:
            modules.setdefault(module, []).append(node)
            if folder_number is not None:
                module_folders.setdefault(module, parts[1])
    for lessons in modules.values():
        # Files with no N.M order (under a module folder) follow the numbered ones.
        last = max((n.sequence_order or 0 for n in lessons), default=0)
        for node in lessons:
            if node.sequence_order is None:
                last += 1
                node.sequence_order = min(last, MAX_ORDER)
        lessons.sort(key=lambda n: (n.sequence_order or 0, n.slug))
    found_ids = {n.metadata.get("lesson_id") for ls in modules.values() for n in ls}
    for lesson_id, lesson in curriculum.lessons_by_id.items():
        path = _first(lesson, "file_path", "file", "path")
        if lesson_id not in found_ids and not (isinstance(path, str) and path in used):
            title = _first(lesson, "lesson_title", "title")
            reader.warn(
                "curriculum.yaml", f"lesson {lesson_id} ({title}) has no file under lessons/"
            )
    children: list[TreeNodeIn] = []
    for number in sorted(modules):
        spec = curriculum.modules.get(number, {})
        title = _first(spec, "module_title", "title")
        named = f"Módulo {number}: {title}" if title else f"Módulo {number}"
        children.append(
            TreeNodeIn(
                slug=slugs.take(f"modulo-{number}"),
                title=named[:MAX_TITLE],
                content_type="course_module",
                sequence_order=min(number, MAX_ORDER),
                metadata={
                    "module": number,
                    **({"folder": module_folders[number]} if number in module_folders else {}),
                    **(
                        {"curriculum": _jsonable({k: v for k, v in spec.items() if k != "lessons"})}
                        if spec
                        else {}
                    ),
                },
                children=modules[number],
            )
        )
    after = max(modules, default=0) + 1
    for index, node in enumerate(sorted(loose, key=lambda n: n.slug)):
        node.sequence_order = min(after + index, MAX_ORDER)
        children.append(node)
    return children


def _research(files: list[_File], used: set[str]) -> list[ResearchEntry]:
    """Every file under `research/` is a market research entry."""
    entries: list[ResearchEntry] = []
    for file in files:
        if not file.rel.startswith("research/"):
            continue
        used.add(file.rel)
        name = file.rel.rsplit("/", 1)[-1].lower()
        kind = next((t for word, t in RESEARCH_TYPES if word in name), "other")
        report: dict[str, Any] = {"source_file": file.rel}
        if name.endswith((".yaml", ".yml", ".json")):
            try:
                report["data"] = _jsonable(
                    json.loads(file.text) if name.endswith(".json") else yaml.safe_load(file.text)
                )
            except (ValueError, yaml.YAMLError):
                report["data"] = None  # kept as the body below
        entries.append(
            ResearchEntry(
                source_file=file.rel,
                research_type=kind,
                title=_title_of(file.text) or file.rel.rsplit("/", 1)[-1],
                body=file.text,
                report_data=report,
                idempotency_key=str(uuid.uuid4()),  # set, so the outbox keeps it
            )
        )
    return entries


def _documents(files: list[_File], used: set[str], slugs: _Slugs) -> list[TreeNodeIn]:
    """Everything else (the brief, READMEs, assessments, resources, mind maps)
    as `other` nodes: top-level files at the root, each folder as a node
    holding its files."""
    roots: list[TreeNodeIn] = []
    folders: dict[str, TreeNodeIn] = {}
    for file in files:
        if file.rel in used:
            continue
        parts = file.rel.split("/")
        node = TreeNodeIn(
            slug=slugs.take(file.rel.removesuffix(".md").replace("/", "-")),
            title=(_title_of(file.text) or parts[-1])[:MAX_TITLE],
            content_type="other",
            content=file.text,
            file_path=file.rel,
            metadata={"source_file": file.rel, "kind": _kind_of(file.rel)},
        )
        if len(parts) == 1:
            roots.append(node)
            continue
        if parts[0] not in folders:
            folders[parts[0]] = TreeNodeIn(
                slug=slugs.take(f"{parts[0]}-folder"),
                title=parts[0],
                content_type="other",
                metadata={"kind": "folder", "folder": parts[0]},
            )
            roots.append(folders[parts[0]])
        folders[parts[0]].children.append(node)
    for order, node in enumerate(roots, start=1):
        node.sequence_order = order
        for child_order, child in enumerate(node.children, start=1):
            child.sequence_order = child_order
    return roots


def _kind_of(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1].lower()
    if "brief" in name:
        return "brief"
    if rel.startswith("assessments/"):
        return "assessment"
    if rel.startswith("resources/"):
        return "resource"
    return "document"
