"""`curriculum.yaml` in whatever shape it comes: what it says about the
course, its modules and its lessons. Nothing here raises on a strange shape:
the parts it cannot use are warnings, and the file is kept verbatim anyway.

Understood: the course's fields at the top or under `course:`/`curso:`;
a title under `title`, `name`, `titulo`, `nome` (or `course: "Title"`);
modules under `modules`/`modulos` as a list or a mapping; lessons under
`lessons`/`aulas`, at the top or in a module, as a list, a mapping (id →
lesson) or a number (how many).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from creatoros_client._layout import module_key

TITLE_KEYS = ("title", "name", "titulo", "nome", "course_title", "course_name")
DESCRIPTION_KEYS = ("description", "descricao", "subtitle", "subtitulo")
MODULE_KEYS = ("modules", "modulos")
LESSON_KEYS = ("lessons", "aulas")
MAX_METADATA_DEPTH = 30
_MODULE_IN = re.compile(r"(\d+[a-z]?)", re.IGNORECASE)


def jsonable(value: Any, depth: int = 0) -> Any:
    """A YAML or JSON value as the API's metadata can hold it: string keys, no
    null members (metadata is merged as a JSON Merge Patch, where null means
    "delete", so a null would be stored once and dropped on the next save),
    no NUL or lone surrogate (PostgreSQL refuses them), finite numbers, at
    most MAX_METADATA_DEPTH levels (YAML aliases can even make a cycle)."""
    if depth > MAX_METADATA_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {_clean(str(k)): jsonable(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value if v is not None]
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clean(value)
    return _clean(str(value))  # dates, bytes (!!binary) and the like


def _clean(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def first(mapping: Any, *keys: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for key in keys:
        if mapping.get(key) not in (None, "", [], {}):
            return mapping[key]
    return None


def text_of(value: Any) -> str | None:
    """A scalar as a title; None for lists, mappings and empty values."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = _clean(str(value)).strip()
    return text or None


def number_key(value: Any) -> str | None:
    """A module's key from `1`, `"1"`, `"module_1"`, `"Módulo 4A"`."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str | float):
        match = _MODULE_IN.search(str(value))
        return module_key(match.group(1)) if match else None
    return None


@dataclass
class Lesson:
    spec: dict[str, Any]
    module: str | None
    lesson_id: str | None
    file: str | None
    title: str | None


@dataclass
class Curriculum:
    data: dict[str, Any] | None = None
    course: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    description: str | None = None
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    lessons: list[Lesson] = field(default_factory=list)
    lesson_count: int | None = None  # `lessons: 12`
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: Any) -> Curriculum:
        if isinstance(data, list):
            data = next((d for d in data if isinstance(d, dict)), data)
        if not isinstance(data, dict):
            found = cls()
            found.warnings.append(
                f"not a mapping of course fields (a {type(data).__name__}); kept as it is"
            )
            return found
        found = cls(data=data)
        nested = next((data[k] for k in ("course", "curso") if k in data), None)
        found.course = {**data, **nested} if isinstance(nested, dict) else dict(data)
        title = text_of(first(found.course, *TITLE_KEYS))
        if title is None and isinstance(nested, str | int | float) and not isinstance(nested, bool):
            title = text_of(nested)
        found.title = title
        found.description = text_of(first(found.course, *DESCRIPTION_KEYS))
        modules = first(found.course, *MODULE_KEYS)
        if modules is not None:
            found._modules(modules)
        lessons = first(found.course, *LESSON_KEYS)
        if lessons is not None:
            found._lessons(lessons, None, "lessons")
        return found

    def _modules(self, modules: Any) -> None:
        if isinstance(modules, int) and not isinstance(modules, bool):
            return  # a count of modules: nothing to match
        if isinstance(modules, dict):
            items = [(k, v) for k, v in modules.items()]
        elif isinstance(modules, list):
            items = [(None, v) for v in modules]
        else:
            self.warnings.append(f"modules: a {type(modules).__name__}, not a list; ignored")
            return
        for position, (name, spec) in enumerate(items, start=1):
            if isinstance(spec, str | int | float) and not isinstance(spec, bool):
                spec = {"title": spec}
            if not isinstance(spec, dict):
                self.warnings.append(f"module {position}: not a mapping; ignored")
                continue
            key = (
                number_key(
                    first(spec, "module_id", "id", "number", "module_number", "numero", "modulo")
                )
                or number_key(name)
                or str(position)
            )
            self.modules.setdefault(key, spec)
            lessons = first(spec, *LESSON_KEYS)
            if lessons is not None:
                self._lessons(lessons, key, f"module {key} lessons")

    def _lessons(self, lessons: Any, module: str | None, where: str) -> None:
        if isinstance(lessons, int) and not isinstance(lessons, bool):
            self.lesson_count = (self.lesson_count or 0) + lessons
            return
        if isinstance(lessons, dict):
            items = list(lessons.items())
        elif isinstance(lessons, list):
            items = [(None, v) for v in lessons]
        else:
            self.warnings.append(f"{where}: a {type(lessons).__name__}, not a list; ignored")
            return
        for name, spec in items:
            if isinstance(spec, str | int | float) and not isinstance(spec, bool):
                spec = {"title": spec}
            if not isinstance(spec, dict):
                self.warnings.append(f"{where}: an entry that is not a mapping; ignored")
                continue
            lesson_id = text_of(first(spec, "lesson_id", "id", "numero", "number")) or (
                text_of(name) if name is not None else None
            )
            lesson_module = module
            if lesson_id and "." in lesson_id:
                lesson_module = lesson_module or number_key(lesson_id.split(".", 1)[0])
            path = first(spec, "file_path", "file", "path", "arquivo")
            self.lessons.append(
                Lesson(
                    spec=spec,
                    module=lesson_module,
                    lesson_id=lesson_id,
                    file=path.removeprefix("./") if isinstance(path, str) else None,
                    title=text_of(first(spec, "lesson_title", *TITLE_KEYS)),
                )
            )

    def lesson_for(self, rel: str, lesson_id: str | None) -> Lesson | None:
        for lesson in self.lessons:
            if lesson.file == rel:
                return lesson
        if lesson_id is not None:
            for lesson in self.lessons:
                if lesson.lesson_id == lesson_id:
                    return lesson
        return None
