"""Tree payloads built from the real CreatorOS course folders in shared/."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from creatoros_client import read_course
from creatoros_client.course import walk

# shared/ sits beside the checkout (../shared), in CI as in development.
FIXTURES = Path(
    os.environ.get(
        "CREATOROS_FIXTURES",
        Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "courses",
    )
)
LESSON_FILE = re.compile(r"^(\d+)\.(\d+)-(.+)\.md$")


def course_payload(name: str) -> list[dict[str, Any]]:
    """outline → module N → lesson N.M, from `lessons/N.M-slug.md`; other
    files there (BONUS-…) hang off the outline directly."""
    lessons_dir = FIXTURES / name / "lessons"
    if not lessons_dir.is_dir():
        raise FileNotFoundError(
            f"no course fixtures at {lessons_dir}: shared/ must sit beside the checkout "
            "(or set CREATOROS_FIXTURES)"
        )
    # Bodies as the importer reads them (any encoding; creatoros_client's reader).
    bodies = {n.file_path: n.content or "" for n in walk(read_course(FIXTURES / name).nodes)}
    modules: dict[int, list[dict[str, Any]]] = {}
    extras: list[dict[str, Any]] = []
    for path in sorted(lessons_dir.glob("*.md")):
        body = bodies[f"lessons/{path.name}"]
        title = next((line.lstrip("# ").strip() for line in body.splitlines() if line.strip()),
                     path.stem)  # fmt: skip
        node = {
            "slug": path.stem.lower(),
            "title": title[:500] or path.stem,
            "content_type": "course_lesson",
            "content": body,
            "file_path": f"outputs/courses/{name}/lessons/{path.name}",
            "metadata": {"source_file": path.name},
        }
        match = LESSON_FILE.match(path.name)
        if match:
            node["sequence_order"] = int(match.group(2))
            modules.setdefault(int(match.group(1)), []).append(node)
        else:
            extras.append(node)
    children = [
        {"slug": f"modulo-{number}", "title": f"Módulo {number}", "content_type": "course_module",
         "sequence_order": number, "children": lessons}
        for number, lessons in sorted(modules.items())
    ] + extras  # fmt: skip
    return [{"slug": name, "title": name, "content_type": "course_outline", "children": children}]


def flatten(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in nodes:
        out.append(node)
        out += flatten(node.get("children", []))
    return out
