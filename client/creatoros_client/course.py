"""Reading CreatorOS course folders into plans: the project, one content tree
and the research reports — whatever layout the folder has.

The layout is recognised from evidence in the folder, not expected:

- a lessons folder (`lessons/`, `aulas/`, `modulos/`, `transcripts/`…), its
  files flat (`lessons/N.M-slug.md`: module N, lesson M) or in module folders
  (`aulas/modulo-NN/…`); a module's summary is a `README.md`/`index.md` in
  its folder or a `modulo-NN-slug.md` beside it, and becomes the module
  node's body;
- lesson files at the top, named `aula_NN_…` (lesson NN), `MN-AULAK-…`
  (module N, lesson K), `N.M-…` or `modulo-N-aula-K…`; module folders at the
  top (`modulo-2-…/`);
- version folders (`v1-…/`, `v2-…/`, at any level): the newest holds the
  course's lessons, as if its files sat where the version folder is; the
  files of the older ones are kept as documents (`kind: "older_version"`);
- a program folder, which holds several tracks (two or more sub-folders that
  are courses, or one named `trilha-N-…`/`track-N-…`) and files of its own (a
  manual): `read_courses` gives one plan per track. The tracks are tied
  together by one project metadata key, the same in each, and no project of
  their own: `program: {"slug": <program folder's slug>, "title": <its
  README/manual heading or name>, "track": <N of trilha-N, else the track
  folder's name>}`. The program's own files go into every track's plan as
  documents under a `program` node, with no `file_path` (they are not in the
  track's folder) and `metadata.program_file`, their path in the program.

Lesson order and modules come from the numbers in names and folders, and
from the curriculum (which also gives titles), in natural order (`aula_2`
before `aula_10`); `sequence_order` is the position among siblings, from 1.

Content types used (all within the API's hierarchy, app/trees/service.py):
`course_outline` (the course: the root, body from an `ementa…`/`outline…`
file at the top), `course_module` (under the outline), `course_lesson`
(under a module, or under the outline when no module is known; a Markdown
file, or a transcript: `.txt`, `.vtt`), and `other` for every other file,
at the root (top-level files) or under a node per top-level folder.

Node metadata: `source_file`; `format` (`markdown`, `text`, or `vtt` for
WebVTT, whose cues and timings are kept in the body); `encoding` (the code
page a non-UTF-8 file was read in; it is named in a warning too) and `bom`
(`true` when the file began with a byte order mark, stripped from the body)
so an export can write the same bytes; lessons also `module`, `lesson_id`
and their `curriculum` entry.

Nothing is dropped silently: every file is a node (body = its decoded text,
line endings kept; `file_path` = its POSIX path in the course folder), a
research entry (files under `research/`), or in `CoursePlan.skipped` with
the reason (binary, an unsupported type, larger than MAX_FILE_BYTES, a NUL
character the API cannot store, a symlink out of the folder, …). The
curriculum and `.metadata.json` are nodes too, and are read into the
project's metadata. A course without lessons is a warning; an empty folder
raises EmptyCourseFolder.
"""

from __future__ import annotations

import json
import os
import re
import stat
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from creatoros_client import _layout as layout
from creatoros_client._curriculum import Curriculum, first, jsonable, text_of
from creatoros_client._text import BINARY_SUFFIXES, MAX_FILE_BYTES, Decoded, NotText, decode
from creatoros_client.models import ContentType, ProjectType, ProjectUpsert, TreeNodeIn

HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
METADATA_NAME = ".metadata.json"
OUTLINE_STEMS = ("course-outline", "outline", "ementa", "syllabus")
MAX_TITLE = 500
MAX_SLUG = 200
MAX_ORDER = 32767
# The API takes at most 16 MB per request by default (MAX_BODY_BYTES).
REQUEST_BUDGET = 15 * 1024 * 1024

# A report's research type, from words in its file name.
RESEARCH_TYPES = (
    ("competit", "competitive_analysis"),
    ("keyword", "keyword_research"),
    ("market", "market_analysis"),
    ("gap", "content_gaps"),
    ("different", "differentiation"),
    ("source", "sources"),
)


class EmptyCourseFolder(ValueError):
    """The folder holds no files at all (in no sub-folder either)."""


def slugify(text: str) -> str:
    """A valid API slug: ASCII lower case, words joined by `-` (dots kept
    between digits and words, as in `1.1-intro`). `My_Course` → `my-course`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9.]+", "-", ascii_text)
    words = re.sub(r"[-.]{2,}", lambda m: "." if set(m.group()) == {"."} else "-", words)
    return words.strip("-.")[:MAX_SLUG].strip("-.")


class Skipped(BaseModel):
    """A file (or folder) not imported, and why."""

    path: str  # POSIX, relative to the plan's folder (`../x` for a program's own file)
    reason: str


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
    skipped: list[Skipped] = Field(default_factory=list)

    def lessons(self) -> list[TreeNodeIn]:
        return [n for n in walk(self.nodes) if n.content_type == "course_lesson"]


def walk(nodes: list[TreeNodeIn]) -> Iterator[TreeNodeIn]:
    for node in nodes:
        yield node
        yield from walk(node.children)


@dataclass
class _File:
    rel: str  # relative to the folder read, with `/`
    decoded: Decoded

    @property
    def text(self) -> str:
        return self.decoded.text

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]

    def metadata(self) -> dict[str, Any]:
        """How the file was stored: what an export needs to write it back."""
        found: dict[str, Any] = {"source_file": self.rel}
        if self.decoded.encoding is not None:
            found["encoding"] = self.decoded.encoding
        if self.decoded.bom:
            found["bom"] = True
        return found


@dataclass
class _Files:
    """Every file of a folder, read as text, in a stable order; what cannot be
    read is in `skipped` with the reason."""

    root: Path
    exclude: frozenset[Path] = frozenset()
    files: list[_File] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def read(self) -> _Files:
        real_root = self.root.resolve()

        def unreadable(error: OSError) -> None:
            where = Path(error.filename) if error.filename else self.root
            self.skip(self._rel(where), f"cannot be listed ({error.strerror or error})")

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=unreadable):
            dirnames.sort(key=layout.natural_key)
            base = Path(dirpath)
            for name in list(dirnames):
                path = base / name
                if path in self.exclude:
                    dirnames.remove(name)
                elif name in layout.SKIPPED_FOLDERS:
                    dirnames.remove(name)
                    self.skip(self._rel(path), "version control or cache folder")
                elif path.is_symlink():
                    dirnames.remove(name)  # os.walk would not follow it anyway: say so
                    self.skip(self._rel(path), "a symlinked folder; not followed")
            for name in sorted(filenames, key=layout.natural_key):
                self._read(base / name, real_root)
        return self

    def skip(self, rel: str, reason: str) -> None:
        self.skipped.append(Skipped(path=rel, reason=reason))

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read(self, path: Path, real_root: Path) -> None:
        rel = self._rel(path)
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            shown = rel.encode("utf-8", "backslashreplace").decode("utf-8")
            self.skip(shown, "the file name is not valid UTF-8")
            return
        try:
            info = path.stat()
        except OSError as exc:
            self.skip(rel, f"a broken symlink or unreadable ({exc.strerror or exc})")
            return
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(real_root):
                self.skip(rel, f"a symlink out of the course folder (to {target})")
                return
        if not stat.S_ISREG(info.st_mode):
            self.skip(rel, "not a regular file")
            return
        suffix = Path(rel).suffix.lower()
        if suffix in BINARY_SUFFIXES:
            self.skip(rel, f"unsupported type ({suffix}): not text")
            return
        if info.st_size > MAX_FILE_BYTES:
            self.skip(rel, f"too large ({info.st_size} bytes; the limit is {MAX_FILE_BYTES})")
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.skip(rel, f"cannot be read ({exc.strerror or exc})")
            return
        try:
            decoded = decode(data)
        except NotText as exc:
            self.skip(rel, str(exc))
            return
        size = len(decoded.text.encode("utf-8"))
        if size > MAX_FILE_BYTES:
            self.skip(rel, f"too large as UTF-8 ({size} bytes; the limit is {MAX_FILE_BYTES})")
            return
        if not data.strip():
            self.warnings.append(f"{rel}: empty file; imported empty")
        if decoded.encoding is not None and not decoded.encoding.startswith("utf-"):
            self.warnings.append(f"{rel}: not valid UTF-8; read as {decoded.encoding}")
        self.files.append(_File(rel, decoded))


def _title_of(text: str) -> str | None:
    """The first Markdown heading, without emphasis marks."""
    for line in text.splitlines():
        match = HEADING.match(line)
        if match:
            title = match.group(1).strip().strip("*_`").strip()
            return title[:MAX_TITLE] or None
    return None


def _short(text: str) -> str:
    return text.strip()[:MAX_TITLE].strip() or "untitled"


class _Slugs:
    """Unique slugs within the tree (the API matches nodes by slug)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        base = slugify(wanted) or "node"
        slug, n = base, 2
        while slug in self.used:
            slug = f"{base[: MAX_SLUG - 8].rstrip('-.')}-{n}"
            n += 1
        self.used.add(slug)
        return slug


def _has_any_file(folder: Path) -> bool:
    return any(filenames for _, _, filenames in os.walk(folder))


def _check_folder(folder: str | os.PathLike[str]) -> Path:
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a course folder")
    if not _has_any_file(root):
        raise EmptyCourseFolder(f"{root} is empty: no files to import (in no sub-folder either)")
    return root


def read_course(folder: str | os.PathLike[str]) -> CoursePlan:
    """Read one course folder into a plan. Raises NotADirectoryError when
    `folder` is not a folder and EmptyCourseFolder when it holds no file;
    everything inside it that cannot be used is a warning or skipped."""
    root = _check_folder(folder)
    plan = _read(root, None, None)
    tracks = layout.tracks_of(root)
    if tracks:
        plan.warnings.insert(
            0,
            f".: a program of {len(tracks)} tracks ({', '.join(t.name for t in tracks)}); "
            "read_courses reads one course per track",
        )
    return plan


def read_courses(folder: str | os.PathLike[str]) -> list[CoursePlan]:
    """One plan for a course folder; one per track for a program folder (see
    the module's docstring). Raises NotADirectoryError and EmptyCourseFolder
    as read_course does."""
    root = _check_folder(folder)
    tracks = layout.tracks_of(root)
    if not tracks:
        return [_read(root, None, None)]
    own = _Files(root, exclude=frozenset(tracks)).read()
    program = {
        "slug": slugify(root.resolve().name) or "program",
        "title": _program_title(own.files) or root.resolve().name,
    }
    plans = []
    for track in tracks:
        number = layout.track_of(track.name)
        info = {**program, "track": number if number is not None else track.name}
        plans.append(_read(track, info, own))
    return plans


def _program_title(files: list[_File]) -> str | None:
    tops = [f for f in files if "/" not in f.rel and f.name.lower().endswith((".md", ".txt"))]
    tops.sort(key=lambda f: (not layout.plain(f.name).startswith("readme"), "manual" not in
                             layout.plain(f.name), layout.natural_key(f.name)))  # fmt: skip
    return next((t for f in tops if (t := _title_of(f.text))), None)


@dataclass
class _Lesson:
    file: _File
    parts: list[str]  # the path without version folders
    module: str | None
    order: int | None
    folder: str | None = None  # the module folder it came from
    version: int | None = None


@dataclass
class _Layout:
    """Where each file goes."""

    lessons: list[_Lesson] = field(default_factory=list)
    summaries: dict[str, list[_File]] = field(default_factory=dict)
    documents: list[tuple[_File, dict[str, Any]]] = field(default_factory=list)
    research: list[_File] = field(default_factory=list)
    outline: _File | None = None
    warnings: list[str] = field(default_factory=list)


def _classify(files: list[_File], root: Path, curriculum: Curriculum) -> _Layout:
    found = _Layout()
    newest = layout.newest_versions(root)
    outlines = sorted(
        (
            f
            for f in files
            if "/" not in f.rel
            and layout.plain(layout.stem_of(f.name)).startswith(OUTLINE_STEMS)
            and f.name.lower().endswith((".md", ".markdown", ".txt"))
        ),
        key=lambda f: layout.natural_key(f.name),
    )
    found.outline = outlines[0] if outlines else None
    for file in files:
        if file is found.outline:
            continue
        if file.rel.startswith("research/"):
            found.research.append(file)
            continue
        parts, version, older = layout.without_versions(file.rel.split("/"), newest)
        if older:
            found.documents.append((file, {"kind": "older_version", "version": version}))
            continue
        if not layout.is_lesson_type(file.name) or file.rel in layout.CURRICULUM_NAMES:
            found.documents.append((file, {}))
            continue
        placed = _place(file, parts, curriculum, found)
        if isinstance(placed, _Lesson):
            placed.version = version
            found.lessons.append(placed)
        elif isinstance(placed, str):
            found.summaries.setdefault(placed, []).append(file)
        else:
            found.documents.append((file, {}))
    return found


def _place(
    file: _File, parts: list[str], curriculum: Curriculum, found: _Layout
) -> _Lesson | str | None:
    """A lesson, a module's summary (its module key) or None (a document)."""
    name = parts[-1]
    in_container = len(parts) >= 2 and layout.is_container(parts[0])
    top_module = None if in_container or len(parts) < 2 else layout.module_of_name(parts[0])
    if in_container and len(parts) == 2:
        if layout.is_summary_name(name):
            return None
        numbering = layout.order_in_folder(name)
        summary_of = layout.module_of_name(name)
        if summary_of is not None and layout.lesson_numbering(name) is None:
            return summary_of
        return _lesson(file, parts, numbering.module, numbering.order, None, curriculum)
    if in_container or top_module is not None:
        folder_index = 1 if in_container else 0
        folder = parts[folder_index]
        folder_module = top_module if top_module is not None else layout.module_of_folder(folder)
        if layout.is_summary_name(name) and len(parts) == folder_index + 2 and folder_module:
            return folder_module
        numbering = layout.order_in_folder(name)
        module = numbering.module or folder_module
        if module is None:
            found.warnings.append(
                f"{file.rel}: in a folder with no module number; placed at the course level"
            )
        where = "/".join(parts[: folder_index + 1])
        return _lesson(file, parts, module, numbering.order, where, curriculum)
    if len(parts) == 1:
        named = layout.lesson_numbering(name)
        if named is not None:
            return _lesson(file, parts, named.module, named.order, None, curriculum)
        return layout.module_of_name(name)
    return None


def _lesson(
    file: _File,
    parts: list[str],
    module: str | None,
    order: int | None,
    folder: str | None,
    curriculum: Curriculum,
) -> _Lesson:
    if module is None:
        known = curriculum.lesson_for(file.rel, None)
        module = known.module if known is not None else None
    return _Lesson(file, parts, module, order, folder)


def _read(root: Path, program: dict[str, Any] | None, own: _Files | None) -> CoursePlan:
    read = _Files(root).read()
    files, skipped, warnings = read.files, read.skipped, list(read.warnings)
    name = root.resolve().name
    slug = slugify(name)
    if not slug:
        warnings.append(f".: the folder name {name!r} gives no slug; using 'course'")
        slug = "course"
    by_rel = {f.rel: f for f in files}

    metadata: dict[str, Any] = {"source": {"kind": "creatoros-course-folder", "folder": root.name}}
    curriculum = Curriculum()
    curriculum_name = next((n for n in layout.CURRICULUM_NAMES if n in by_rel), None)
    if curriculum_name is not None:
        try:
            docs = [d for d in yaml.safe_load_all(by_rel[curriculum_name].text) if d is not None]
        except (yaml.YAMLError, ValueError, RecursionError) as exc:
            warnings.append(
                f"{curriculum_name}: malformed YAML ({_yaml_problem(exc)}); kept as text only"
            )
        else:
            data = docs[0] if len(docs) == 1 else docs
            curriculum = Curriculum.parse(data)
            if data != []:
                metadata["curriculum"] = jsonable(data)
            warnings += [f"{curriculum_name}: {w}" for w in curriculum.warnings]

    folder_meta: dict[str, Any] = {}
    if METADATA_NAME in by_rel:
        try:
            loaded = jsonable(json.loads(by_rel[METADATA_NAME].text))
        except (ValueError, RecursionError) as exc:
            warnings.append(f"{METADATA_NAME}: malformed JSON ({exc}); kept as text only")
        else:
            metadata["folder_metadata"] = loaded
            folder_meta = loaded if isinstance(loaded, dict) else {}

    persona = folder_meta.get("mmos_persona") or curriculum.course.get("instructor")
    if persona:
        metadata["persona"] = jsonable(persona)
    if program is not None:
        metadata["program"] = program
    title = (
        curriculum.title
        or text_of(first(folder_meta, "course_title"))
        or _heading_of_top(files, "brief")
        or _heading_of_top(files, "readme")
        or name
    )
    description = curriculum.description

    found = _classify(files, root, curriculum)
    warnings += found.warnings
    slugs = _Slugs()
    outline = TreeNodeIn(
        slug=slugs.take(slug),
        title=_short(title),
        content_type=ContentType.course_outline,
        sequence_order=0,
        metadata={"kind": "course"},
    )
    if found.outline is not None:
        outline.content = found.outline.text
        outline.file_path = found.outline.rel
        outline.metadata.update(found.outline.metadata())
        outline.metadata["format"] = _format_of(found.outline)
    outline.children = _course_tree(found, curriculum, slugs, warnings)
    if not any(n.content_type == "course_lesson" for n in walk([outline])):
        warnings.append(
            ".: no lessons found (looked for lessons/ or aulas/ folders, module folders, "
            "and aula_NN_…, MN-AULAK-…, N.M-… files); the files are kept as documents"
        )
    documents = _documents(found.documents, slugs)
    if own is not None:
        documents += _program_documents(own, slugs)
        skipped += [Skipped(path=f"../{s.path}", reason=s.reason) for s in own.skipped]
        warnings += [f"../{w}" for w in own.warnings]
    for order, node in enumerate(documents, start=1):
        node.sequence_order = min(order, MAX_ORDER)

    nodes = [outline, *documents]
    total = sum(len((n.content or "").encode("utf-8")) for n in walk(nodes))
    if total > REQUEST_BUDGET:
        warnings.append(
            f".: the course's text is {total // (1024 * 1024)} MB; the API takes at most 16 MB "
            "in one request by default (MAX_BODY_BYTES)"
        )
    warnings += [f"{s.path}: {s.reason}; skipped" for s in read.skipped]
    return CoursePlan(
        folder=str(root),
        slug=slug,
        project=ProjectUpsert(
            name=_short(title),
            project_type=ProjectType.course,
            description=description[:10_000] if description else None,
            project_metadata=metadata,
        ),
        nodes=nodes,
        research=_research(found.research),
        warnings=warnings,
        skipped=skipped,
    )


def _heading_of_top(files: list[_File], word: str) -> str | None:
    tops = sorted(
        (f for f in files if "/" not in f.rel and word in layout.plain(f.name)),
        key=lambda f: layout.natural_key(f.name),
    )
    return next((t for f in tops if (t := _title_of(f.text))), None)


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def _format_of(file: _File) -> str:
    lower = file.name.lower()
    if lower.endswith(".vtt") or file.text.startswith("WEBVTT"):
        return "vtt"
    if lower.endswith(".txt"):
        return "text"
    return "markdown"


def _lesson_order(lesson: _Lesson) -> tuple[Any, ...]:
    key = layout.natural_key(lesson.file.rel)
    return (0, lesson.order, key) if lesson.order is not None else (1, 0, key)


def _course_tree(
    found: _Layout, curriculum: Curriculum, slugs: _Slugs, warnings: list[str]
) -> list[TreeNodeIn]:
    """Modules (with their lessons), then the lessons of no module."""
    modules: dict[str, list[_Lesson]] = {}
    loose: list[_Lesson] = []
    for lesson in found.lessons:
        if lesson.module is None:
            loose.append(lesson)
        else:
            modules.setdefault(lesson.module, []).append(lesson)
    # Summaries of modules that have no lesson are documents.
    for key, summaries in found.summaries.items():
        summaries.sort(key=lambda f: layout.natural_key(f.rel))
        rest = summaries if key not in modules else summaries[1:]
        found.documents += [(f, {"kind": "module_summary", "module": key}) for f in rest]
    found.documents.sort(key=lambda d: layout.natural_key(d[0].rel))

    children: list[TreeNodeIn] = []
    matched: set[int] = set()
    for position, key in enumerate(sorted(modules, key=layout.module_sort), start=1):
        lessons = sorted(modules[key], key=_lesson_order)
        spec = curriculum.modules.get(key, {})
        summary = found.summaries.get(key, [None])[0]
        named = text_of(first(spec, "module_title", "title", "titulo", "name", "nome"))
        if named:
            title = f"Módulo {key}: {named}"
        elif summary is not None and (heading := _title_of(summary.text)):
            title = heading
        else:
            title = f"Módulo {key}"
        meta: dict[str, Any] = {"module": layout.module_value(key)}
        folder = next((lesson.folder for lesson in lessons if lesson.folder), None)
        if folder:
            meta["folder"] = folder
        if spec:
            meta["curriculum"] = jsonable({k: v for k, v in spec.items() if k not in
                                          ("lessons", "aulas")})  # fmt: skip
        module = TreeNodeIn(
            slug=slugs.take(f"modulo-{key}"),
            title=_short(title),
            content_type=ContentType.course_module,
            sequence_order=min(position, MAX_ORDER),
            metadata=meta,
        )
        if summary is not None:
            module.content = summary.text
            module.file_path = summary.rel
            module.metadata.update({**summary.metadata(), "format": _format_of(summary)})
        module.children = [
            _lesson_node(lesson, order, curriculum, slugs, matched)
            for order, lesson in enumerate(lessons, start=1)
        ]
        children.append(module)
    after = len(children)
    for index, lesson in enumerate(sorted(loose, key=_lesson_order), start=1):
        children.append(_lesson_node(lesson, after + index, curriculum, slugs, matched))

    for index, known in enumerate(curriculum.lessons):
        if index not in matched and (known.lesson_id or known.file):
            what = known.lesson_id or known.file
            warnings.append(
                f"curriculum: lesson {what} ({known.title}) has no lesson file in the folder"
            )
    count = sum(1 for n in walk(children) if n.content_type == "course_lesson")
    if curriculum.lesson_count is not None and curriculum.lesson_count != count:
        warnings.append(
            f"curriculum: says {curriculum.lesson_count} lessons; {count} lesson files found"
        )
    return children


def _lesson_node(
    lesson: _Lesson, order: int, curriculum: Curriculum, slugs: _Slugs, matched: set[int]
) -> TreeNodeIn:
    file = lesson.file
    numbering = layout.Numbering(lesson.module, lesson.order)
    lesson_id = numbering.lesson_id
    known = curriculum.lesson_for(file.rel, lesson_id)
    if known is not None:
        matched.add(curriculum.lessons.index(known))
    form = _format_of(file)
    title = (
        (_title_of(file.text) if form == "markdown" else None)
        or (known.title if known is not None else None)
        or (layout.title_from_name(file.name) if form != "markdown" else None)
        or layout.stem_of(file.name)
    )
    parts = file.rel.split("/")
    stem = layout.stem_of(parts[-1])
    folders = parts[1:-1] if layout.is_container(parts[0]) and len(parts) > 1 else parts[:-1]
    meta: dict[str, Any] = {**file.metadata(), "format": form}
    if lesson.module is not None:
        meta["module"] = layout.module_value(lesson.module)
    if lesson_id:
        meta["lesson_id"] = lesson_id
    if lesson.version is not None:
        meta["version"] = lesson.version
    if known is not None:
        meta["curriculum"] = jsonable(known.spec)
    return TreeNodeIn(
        slug=slugs.take("-".join([*folders, stem])),
        title=_short(title),
        content_type=ContentType.course_lesson,
        content=file.text,
        file_path=file.rel,
        sequence_order=min(order, MAX_ORDER),
        metadata=meta,
    )


def _research(files: list[_File]) -> list[ResearchEntry]:
    """Every file under `research/` is a market research entry."""
    entries: list[ResearchEntry] = []
    for file in files:
        name = file.name.lower()
        kind = next((t for word, t in RESEARCH_TYPES if word in name), "other")
        report: dict[str, Any] = {"source_file": file.rel}
        if file.decoded.encoding is not None:
            report["encoding"] = file.decoded.encoding
        if file.decoded.bom:
            report["bom"] = True
        if name.endswith((".yaml", ".yml", ".json")):
            try:
                data = (
                    json.loads(file.text) if name.endswith(".json") else yaml.safe_load(file.text)
                )
                if data is not None:
                    report["data"] = jsonable(data)
            except (ValueError, yaml.YAMLError, RecursionError):
                pass  # kept as the body below
        entries.append(
            ResearchEntry(
                source_file=file.rel,
                research_type=kind,
                title=_short(_title_of(file.text) or file.name),
                body=file.text,
                report_data=report,
                idempotency_key=str(uuid.uuid4()),  # set, so the outbox keeps it
            )
        )
    return entries


def _document(file: _File, extra: dict[str, Any], slugs: _Slugs, slug: str) -> TreeNodeIn:
    meta = {**file.metadata(), "kind": _kind_of(file.rel), **extra}
    if file.name.lower().endswith((".txt", ".vtt")):
        meta["format"] = _format_of(file)
    return TreeNodeIn(
        slug=slugs.take(slug),
        title=_short(_title_of(file.text) or file.name),
        content_type=ContentType.other,
        content=file.text,
        file_path=file.rel,
        metadata=meta,
    )


def _documents(found: list[tuple[_File, dict[str, Any]]], slugs: _Slugs) -> list[TreeNodeIn]:
    """Everything else (the brief, READMEs, the curriculum, assessments,
    resources, mind maps, older versions) as `other` nodes: top-level files at
    the root, each top-level folder as a node holding its files."""
    roots: list[TreeNodeIn] = []
    folders: dict[str, TreeNodeIn] = {}
    for file, extra in found:
        parts = file.rel.split("/")
        node = _document(file, extra, slugs, file.rel.removesuffix(".md").replace("/", "-"))
        if len(parts) == 1:
            roots.append(node)
            continue
        if parts[0] not in folders:
            folders[parts[0]] = TreeNodeIn(
                slug=slugs.take(f"{parts[0]}-folder"),
                title=_short(parts[0]),
                content_type=ContentType.other,
                metadata={"kind": "folder", "folder": parts[0]},
            )
            roots.append(folders[parts[0]])
        folder = folders[parts[0]]
        node.sequence_order = min(len(folder.children) + 1, MAX_ORDER)
        folder.children.append(node)
    return roots


def _program_documents(own: _Files, slugs: _Slugs) -> list[TreeNodeIn]:
    """The program's own files (its manual…), kept in each track's plan."""
    if not own.files:
        return []
    holder = TreeNodeIn(
        slug=slugs.take("program"),
        title="Programa",
        content_type=ContentType.other,
        metadata={"kind": "program"},
    )
    for order, file in enumerate(own.files, start=1):
        node = _document(file, {"kind": "program_file"}, slugs, "program-" + file.rel)
        node.file_path = None  # not in the track's folder
        node.metadata["program_file"] = node.metadata.pop("source_file")
        node.sequence_order = min(order, MAX_ORDER)
        holder.children.append(node)
    return [holder]


def _kind_of(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1].lower()
    if "brief" in name:
        return "brief"
    if rel in layout.CURRICULUM_NAMES:
        return "curriculum"
    if rel.startswith("assessments/"):
        return "assessment"
    if rel.startswith("resources/"):
        return "resource"
    return "document"
