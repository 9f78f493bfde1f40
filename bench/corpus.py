"""Realistic text for the bench: course trees whose bodies are real CreatorOS
lesson Markdown (the fixture courses), cut into ~5 KB pieces.

Why real text: the cost of a tree is mostly its bodies — TOAST compression,
the full-text index on `contents`, JSON escaping of accents, emoji and code
fences — and lorem ipsum compresses and tokenizes unlike the real thing. Each
node takes a different window of the corpus, so no two bodies are identical
(identical values would flatter compression and caches).
"""

from __future__ import annotations

import os
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from creatoros_client import EmptyCourseFolder, read_courses

# ../shared/fixtures/courses next to the checkout (where the project keeps them),
# or CREATOROS_FIXTURES as for the tests.
_BESIDE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "courses"
DEFAULT_FIXTURES = Path(os.environ.get("CREATOROS_FIXTURES", _BESIDE))
BODY_CHARS = 4600

_TITLE_PREFIX = re.compile(r"^(aula|lesson|lição)\s*[\d.]+\s*[-:\u2013]\s*", re.IGNORECASE)
_SLUG_TAIL = re.compile(r"^[\w.]*?\d+\.\d+-")


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    blocks: tuple[str, ...]


@dataclass
class Node:
    """A content of a course tree, as both the seeder and the payload need it."""

    slug: str
    title: str
    content_type: str
    content: str
    sequence_order: int
    metadata: dict[str, Any]
    fidelity_score: Decimal | None = None
    file_path: str | None = None
    children: list[Node] = field(default_factory=list)

    def walk(self, parent: Node | None = None) -> Iterator[tuple[Node, Node | None]]:
        yield self, parent
        for child in self.children:
            yield from child.walk(self)

    def payload(self) -> dict[str, Any]:
        """The node as `PUT /v1/projects/{id}/tree` takes it (`TreeNodeIn`)."""
        data: dict[str, Any] = {
            "slug": self.slug,
            "title": self.title,
            "content_type": self.content_type,
            "content": self.content,
            "metadata": self.metadata,
        }
        if self.fidelity_score is not None:
            data["fidelity_score"] = str(self.fidelity_score)
        if self.file_path is not None:
            data["file_path"] = self.file_path
        if self.children:
            data["children"] = [child.payload() for child in self.children]
        return data


def _fixture_lessons(root: Path) -> Iterator[tuple[str, str]]:
    """(body, file stem) of each lesson of the course folders under `root`."""
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            plans = read_courses(folder)
        except EmptyCourseFolder:
            continue
        for plan in plans:
            for node in plan.lessons():
                # Markdown only: transcripts (WebVTT cues) are not what bodies look like.
                if node.content and node.file_path and node.metadata.get("format") == "markdown":
                    yield node.content, PurePosixPath(node.file_path).stem


def _blocks(markdown: str) -> list[str]:
    """Paragraph-sized blocks, keeping fenced code blocks whole."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


class Corpus:
    """The fixture lessons, and ~5 KB bodies cut from them."""

    def __init__(self, lessons: list[Lesson], source: str) -> None:
        if not lessons:
            raise ValueError("the corpus has no lessons")
        self.lessons = lessons
        self.source = source

    @classmethod
    def load(cls, root: Path = DEFAULT_FIXTURES) -> Corpus:
        """The lessons of every course folder under `root`, read as the importer
        reads them (any layout, any encoding: creatoros_client.read_courses)."""
        lessons = []
        for text, stem in _fixture_lessons(root):
            blocks = _blocks(text)
            if len(blocks) < 5:
                continue
            heading = next((b for b in blocks if b.startswith("# ")), blocks[0])
            title = _TITLE_PREFIX.sub("", heading.lstrip("# ").strip()) or stem
            slug = re.sub(r"[^a-z0-9]+", "-", _SLUG_TAIL.sub("", stem).lower()).strip("-")
            lessons.append(Lesson(slug=slug or "aula", title=title[:200], blocks=tuple(blocks)))
        if not lessons:
            print(
                f"bench: no fixture lessons under {root}; using synthetic Markdown instead",
                file=sys.stderr,
            )
            return cls.synthetic()
        return cls(lessons, str(root))

    @classmethod
    def synthetic(cls) -> Corpus:
        """A stand-in when the fixtures are missing (less realistic: say so)."""
        rng = random.Random(7)
        words = [
            *("automação", "prompt", "código", "fluxo", "cliente", "dados", "script"),
            *("módulo", "aula", "prática", "exemplo", "resultado", "ferramenta", "negócio"),
        ]
        lessons = []
        for n in range(12):
            blocks = [f"# Aula sintética {n}"]
            for k in range(120):
                sentence = " ".join(rng.choice(words) for _ in range(60))
                blocks.append(f"## Seção {k}" if k % 10 == 0 else sentence.capitalize() + ".")
            lessons.append(Lesson(f"aula-sintetica-{n}", f"Aula sintética {n}", tuple(blocks)))
        return cls(lessons, "synthetic")

    def body(self, rng: random.Random, title: str, chars: int = BODY_CHARS) -> str:
        """A Markdown body of about `chars` characters: a heading, then
        consecutive blocks of one lesson from a random place (wrapping)."""
        lesson = rng.choice(self.lessons)
        blocks = lesson.blocks
        i = rng.randrange(len(blocks))
        target = int(chars * rng.uniform(0.9, 1.1))
        parts = [f"# {title}"]
        size = len(parts[0])
        while size < target:
            block = blocks[i % len(blocks)]
            parts.append(block)
            size += len(block) + 2
            i += 1
        text = "\n\n".join(parts)
        return text[:target] if len(text) > target + 2000 else text

    def course(
        self,
        rng: random.Random,
        slug: str,
        title: str,
        *,
        modules: int,
        lessons_per_module: int,
    ) -> Node:
        """One course tree: an outline, its modules, their lessons."""
        root = Node(
            slug=slug,
            title=title,
            content_type="course_outline",
            content=self.body(rng, title),
            sequence_order=1,
            metadata={"language": "pt-BR", "generator": "creatoros", "modules": modules},
            file_path=f"outputs/courses/{slug}/curriculum.yaml",
        )
        for m in range(1, modules + 1):
            module_title = f"Módulo {m}: {rng.choice(self.lessons).title}"[:200]
            module = Node(
                slug=f"modulo-{m}",
                title=module_title,
                content_type="course_module",
                content=self.body(rng, module_title),
                sequence_order=m,
                metadata={"module": m, "lessons": lessons_per_module},
            )
            for n in range(1, lessons_per_module + 1):
                lesson = rng.choice(self.lessons)
                lesson_title = f"{m}.{n} {lesson.title}"[:200]
                lesson_slug = f"{m}-{n}-{lesson.slug}"[:200]
                module.children.append(
                    Node(
                        slug=lesson_slug,
                        title=lesson_title,
                        content_type="course_lesson",
                        content=self.body(rng, lesson_title),
                        sequence_order=n,
                        metadata={
                            "duration_minutes": rng.choice((10, 15, 20, 25)),
                            "bloom_level": rng.choice(("remember", "understand", "apply")),
                        },
                        fidelity_score=Decimal(rng.randint(70, 98)) / 100,
                        file_path=f"outputs/courses/{slug}/lessons/{m}.{n}-{lesson.slug}.md",
                    )
                )
            root.children.append(module)
        return root
