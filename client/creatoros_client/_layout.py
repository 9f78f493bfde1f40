"""What the names in a course folder say: lesson and module numbers, module
folders, lesson containers, version folders, tracks of a program. Pure
functions of names and folder listings; the reader (course.py) uses them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Folders whose files are the lessons (names compared without accents, lower case).
CONTAINERS = frozenset(
    {"lessons", "lesson", "aulas", "licoes", "modulos", "modules", "transcripts", "transcricoes"}
)
LESSON_SUFFIXES = (".md", ".markdown", ".txt", ".vtt")
SUMMARY_STEMS = frozenset({"readme", "index", "_index", "sumario", "resumo", "summary"})
CURRICULUM_NAMES = ("curriculum.yaml", "curriculum.yml", "curriculo.yaml", "curriculo.yml")
SKIPPED_FOLDERS = frozenset({".git", ".hg", ".svn", "__pycache__", ".ipynb_checkpoints"})

_LESSON_WORD = r"(?:aula|lesson|licao|lic|class|video|episodio|ep)"
# `1.2-slug`, `aula-4A.1-slug`: module 1 (4A), lesson 2 (1).
_MODULE_DOT_LESSON = re.compile(rf"^(?:{_LESSON_WORD}[\s_-]*)?(\d{{1,3}}[a-z]?)\.(\d{{1,3}})(?!\d)")
# `M1-AULA1-Title`, `modulo-2-aula-3`: module 1 (2), lesson 1 (3).
_MODULE_THEN_LESSON = re.compile(
    rf"^m(?:od(?:ulo|ule)?)?[\s_-]*(\d{{1,3}}[a-z]?)[\s_.-]*(?:{_LESSON_WORD}|a|l)[\s_-]*(\d{{1,3}})(?!\d)"
)
# `aula_01_slug`, `lesson-3`: lesson 1 (3), module unknown.
_LESSON_ONLY = re.compile(rf"^{_LESSON_WORD}[\s_-]*(\d{{1,4}})(?!\d)")
# `03-slug`, `3 slug`: an order, inside a lessons folder only.
_LEADING_NUMBER = re.compile(r"^(\d{1,4})(?=[\s_.-]|$)")
# `modulo-01`, `module_2-slug`, `m3`, `mod-4A`.
_MODULE_NAME = re.compile(r"^(?:modulo|module|mod|m)[\s_-]*(\d{1,3}[a-z]?)(?=[\s_.-]|$)")
_DIGITS = re.compile(r"\d+")
# `v2`, `v2-revisado`, `versao-3`.
_VERSION_NAME = re.compile(r"^(?:v|versao|version)[\s_-]*(\d{1,4})(?=[\s_.-]|$)")
# `trilha-2-tecnologia`, `track_1`.
_TRACK_NAME = re.compile(r"^(?:trilha|track|trail)[\s_-]*(\d{1,4})(?=[\s_.-]|$)")
_LANGUAGE_TAIL = re.compile(r"[-_.](?:[a-z]{2}(?:[-_][a-z]{2})?)$", re.IGNORECASE)


def plain(name: str) -> str:
    """Lower case, accents off: `Módulo-01` → `modulo-01`."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key in natural order: `aula_2` before `aula_10`."""
    parts = re.split(r"(\d+)", plain(text))
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts if p)


def module_key(raw: str) -> str:
    """`01` → `1`, `04a` → `4A`: the module's name in ids and metadata."""
    match = re.match(r"0*(\d+)([a-z]?)", raw.lower())
    if match is None:
        return raw
    return f"{int(match.group(1))}{match.group(2).upper()}"


def module_value(key: str) -> int | str:
    """As metadata: `1` → 1, `4A` stays `4A`."""
    return int(key) if key.isdigit() else key


def module_sort(key: str) -> tuple[tuple[int, int, str], ...]:
    return natural_key(key)


def stem_of(name: str) -> str:
    lower = name.lower()
    for suffix in (".whimsical.txt", *LESSON_SUFFIXES):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name.strip(".") else name


def is_lesson_type(name: str) -> bool:
    return name.lower().endswith(LESSON_SUFFIXES)


@dataclass(frozen=True)
class Numbering:
    """What a file name says: its module (if any) and its order (if any)."""

    module: str | None
    order: int | None

    @property
    def lesson_id(self) -> str | None:
        if self.module is not None and self.order is not None:
            return f"{self.module}.{self.order}"
        return None


def lesson_numbering(name: str) -> Numbering | None:
    """A lesson's numbering from a name that says it is a lesson (`1.2-…`,
    `M1-AULA2-…`, `aula_02_…`), else None."""
    stem = plain(stem_of(name)).strip()
    for pattern in (_MODULE_DOT_LESSON, _MODULE_THEN_LESSON):
        match = pattern.match(stem)
        if match:
            return Numbering(module_key(match.group(1)), int(match.group(2)))
    match = _LESSON_ONLY.match(stem)
    if match:
        return Numbering(None, int(match.group(1)))
    return None


def order_in_folder(name: str) -> Numbering:
    """A file in a lessons folder: its numbering, or a bare leading number as order."""
    found = lesson_numbering(name)
    if found is not None:
        return found
    match = _LEADING_NUMBER.match(plain(stem_of(name)))
    return Numbering(None, int(match.group(1)) if match else None)


def module_of_name(name: str) -> str | None:
    """`modulo-01-slug` → `1` (a module folder or a module summary file)."""
    match = _MODULE_NAME.match(plain(stem_of(name)))
    return module_key(match.group(1)) if match else None


def module_of_folder(name: str) -> str | None:
    """A folder inside a lessons folder: its module from the name, or any number in it."""
    found = module_of_name(name)
    if found is not None:
        return found
    match = _LEADING_NUMBER.match(plain(name))
    if match:
        return module_key(match.group(1))
    digits = _DIGITS.search(name)
    return module_key(digits.group()) if digits else None


def is_container(name: str) -> bool:
    return plain(name) in CONTAINERS


def is_summary_name(name: str) -> bool:
    return plain(stem_of(name)) in SUMMARY_STEMS


def version_of(name: str) -> int | None:
    match = _VERSION_NAME.match(plain(name))
    return int(match.group(1)) if match else None


def track_of(name: str) -> int | None:
    match = _TRACK_NAME.match(plain(name))
    return int(match.group(1)) if match else None


def title_from_name(name: str) -> str:
    """A readable title from a file name: `aula_01_o_que_e-pt-BR.txt` → `O que e`."""
    stem = _LANGUAGE_TAIL.sub("", stem_of(name))
    rest = stem
    for pattern in (_MODULE_DOT_LESSON, _MODULE_THEN_LESSON, _LESSON_ONLY, _LEADING_NUMBER):
        match = pattern.match(plain(stem))
        if match:
            rest = stem[match.end() :]
            break
    words = re.sub(r"[\s_-]+", " ", rest).strip(" .")
    return (words[:1].upper() + words[1:]) if words else stem


def newest_versions(root: Path) -> dict[str, tuple[str, int]]:
    """For each folder holding version folders (`v1-…`, `v2-…`): the newest one.
    Keys and values are POSIX paths relative to `root` ("" for the root)."""
    newest: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_FOLDERS]
        base = Path(dirpath)
        rel = "" if base == root else base.relative_to(root).as_posix()
        found = [(version_of(d), d) for d in dirnames if not (base / d).is_symlink()]
        versioned = [(v, d) for v, d in found if v is not None]
        if versioned:
            best = max(versioned, key=lambda vd: (vd[0], natural_key(vd[1])))
            newest[rel] = (best[1], best[0])
    return newest


def without_versions(
    parts: list[str], newest: dict[str, tuple[str, int]]
) -> tuple[list[str], int | None, bool]:
    """A file's path with the newest version folders taken out (their files
    count as if they sat where the version folder is), the version it is
    in, and whether it sits in an older version (kept as a document)."""
    kept: list[str] = []
    version: int | None = None
    older = False
    for index, part in enumerate(parts[:-1]):
        parent = "/".join(parts[:index])
        if parent in newest and version_of(part) is not None:
            name, number = newest[parent]
            if part == name:
                version = number
                continue
            older = True
            version = version_of(part)
        kept.append(part)
    kept.append(parts[-1])
    return kept, version, older


def has_files(folder: Path) -> bool:
    for _, dirnames, filenames in os.walk(folder):
        if filenames:
            return True
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_FOLDERS]
    return False


def looks_like_course(folder: Path) -> bool:
    """Evidence that a folder is one course: a curriculum, a lessons folder,
    module folders, lesson-named files at its top, or a version folder that
    holds one of those."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        name = entry.name
        if entry.is_symlink():
            continue
        if entry.is_file():
            if name.lower() in CURRICULUM_NAMES:
                return True
            if is_lesson_type(name) and lesson_numbering(name) is not None:
                return True
        elif entry.is_dir() and name not in SKIPPED_FOLDERS:
            if (is_container(name) or module_of_name(name) is not None) and has_files(
                Path(entry.path)
            ):
                return True
            if version_of(name) is not None and looks_like_course(Path(entry.path)):
                return True
    return False


def tracks_of(folder: Path) -> list[Path]:
    """The tracks of a program folder (each a course), in natural order; [] for
    a folder that is a course itself or holds no courses. A program is a folder
    with no course of its own and two or more sub-folders that are courses (or
    one named as a track, `trilha-N-…`)."""
    if looks_like_course(folder):
        return []
    try:
        subfolders = [
            Path(e.path)
            for e in os.scandir(folder)
            if e.is_dir(follow_symlinks=False) and e.name not in SKIPPED_FOLDERS
        ]
    except OSError:
        return []
    courses = [
        d
        for d in subfolders
        if version_of(d.name) is None and looks_like_course(d) and has_files(d)
    ]
    if len(courses) >= 2 or any(track_of(d.name) is not None for d in courses):
        return sorted(courses, key=lambda d: natural_key(d.name))
    return []
