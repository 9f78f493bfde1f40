"""Exporting a project back as a course folder: the reverse of the import.

Every node with a `file_path` is written at that path with its body, every
research report with a `report_data.source_file` at that path with its body,
under `OUT/<project_metadata.source.folder or the slug>/`. The bytes are the
ones the reader read, for every file it read as UTF-8: the body in UTF-8,
after a byte order mark when the node's metadata (a report's `report_data`)
says `bom: true`. A file the reader decoded from another code page
(`encoding` in the metadata) is written back in that code page when its
text still fits it, else in UTF-8 with a warning.

A path that would leave the output folder (absolute, `..`, a drive, a
backslash, or through a symlink) is refused and named, never written. A
file whose bytes are already there is left alone, so exporting twice writes
nothing the second time, and importing the export changes nothing.
"""

from __future__ import annotations

import codecs
import os
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, Field

from creatoros_client import models as m
from creatoros_client.client import Client


class ProjectNotFound(LookupError):
    """No project with that slug is visible to the token."""


class ExportResult(BaseModel):
    """One project exported (`exported`), or why not (`refused`: the API's
    4xx or no such project; `failed`: anything else)."""

    slug: str
    status: Literal["exported", "refused", "failed"]
    folder: str | None = None  # the course folder written
    written: int = 0
    unchanged: int = 0
    refused_paths: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    http_status: int | None = None


def safe_relative(path: str) -> PurePosixPath | None:
    """`path` as a relative POSIX path inside a folder, or None when it is
    absolute, climbs out (`..`), names a drive or uses backslashes."""
    if not path or "\\" in path or "\x00" in path:
        return None
    rel = PurePosixPath(path)
    if rel.is_absolute() or any(part in ("..", "") for part in rel.parts):
        return None
    if rel.parts and ":" in rel.parts[0]:  # C:, or a Windows stream
        return None
    parts = [p for p in rel.parts if p != "."]
    return PurePosixPath(*parts) if parts else None


def folder_name(project: m.Project) -> str:
    """The course folder's name: the one it was imported from, when that is
    one plain name, else the slug."""
    source = project.project_metadata.get("source")
    name = source.get("folder") if isinstance(source, dict) else None
    if isinstance(name, str) and (rel := safe_relative(name)) is not None and len(rel.parts) == 1:
        return name
    return project.slug


def encode(text: str, meta: dict[str, Any]) -> tuple[bytes, str | None]:
    """The file's bytes, and a warning when they cannot be the original's."""
    encoding = meta.get("encoding")
    if isinstance(encoding, str) and not _is_utf8(encoding):
        try:
            return text.encode(encoding), None
        except (LookupError, UnicodeEncodeError) as exc:
            note = f"not representable in {encoding} ({type(exc).__name__}); written as UTF-8"
            return text.encode("utf-8"), note
    data = text.encode("utf-8")
    return (codecs.BOM_UTF8 + data if meta.get("bom") is True else data), None


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return False


def _walk(nodes: list[m.TreeNode]) -> Iterator[m.TreeNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def course_files(
    tree: m.ContentTree | None, reports: list[m.MarketResearch]
) -> tuple[dict[PurePosixPath, bytes], list[str], list[str]]:
    """What the course folder holds: {path: bytes}, the refused paths, and
    warnings. Nodes come first; a report at a path a node has is a warning."""
    files: dict[PurePosixPath, bytes] = {}
    refused: list[str] = []
    warnings: list[str] = []
    program_files = 0

    def add(path: str, body: str | None, meta: dict[str, Any], what: str) -> None:
        rel = safe_relative(path)
        if rel is None:
            refused.append(path)
            warnings.append(f"{path}: refused: outside the course folder ({what})")
            return
        if rel in files:
            warnings.append(f"{path}: already written from another {what}; this one is not")
            return
        data, note = encode(body or "", meta)
        if note:
            warnings.append(f"{path}: {note}")
        files[rel] = data

    for node in _walk(tree.nodes if tree else []):
        if node.file_path:
            add(node.file_path, node.content, node.metadata, "node")
        elif "program_file" in node.metadata:
            program_files += 1
    for report in reports:
        source = report.report_data.get("source_file")
        if isinstance(source, str) and source:
            add(source, report.body, report.report_data, "research report")
    if program_files:
        warnings.append(
            f"{program_files} file(s) of the program this track belongs to are not in the "
            "track's folder (no file_path): not written"
        )
    return files, refused, warnings


def write_files(root: Path, files: dict[PurePosixPath, bytes]) -> tuple[int, int, list[str]]:
    """Write under `root`; (written, unchanged, refused paths). A path that a
    symlink would take out of `root` is refused."""
    root.mkdir(parents=True, exist_ok=True)
    base = root.resolve()
    written = unchanged = 0
    refused: list[str] = []
    for rel, data in files.items():
        target = root.joinpath(*rel.parts)
        if not target.resolve().is_relative_to(base) or target.is_dir():
            refused.append(str(rel))
            continue
        if target.is_file() and target.read_bytes() == data:
            unchanged += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        written += 1
    return written, unchanged, refused


def find_project(client: Client, slug: str) -> m.Project:
    """The caller's project `slug`; else the only one visible with it."""
    me = client.minds.me()
    found = client.projects.list(limit=200, slug=slug).items
    own = [p for p in found if p.creator_mind_id == me.mind_id]
    if own:
        return own[0]
    if len(found) == 1:
        return found[0]
    raise ProjectNotFound(f"no project with slug {slug!r} for this token")


def reports_of(client: Client, project_id: uuid.UUID) -> list[m.MarketResearch]:
    reports: list[m.MarketResearch] = []
    cursor: str | None = None
    while True:
        page = client.market_research.list(project_id=project_id, limit=200, cursor=cursor)
        reports += page.items
        if page.next_cursor is None:
            return reports
        cursor = page.next_cursor


def export_project(
    client: Client, slug: str, out: str | os.PathLike[str], *, folder: str | None = None
) -> ExportResult:
    """Write project `slug` as a course folder under `out` (in `out/folder`
    when given). Raises the client's errors and ProjectNotFound."""
    project = find_project(client, slug)
    tree = client.trees.get(project.id, include_body=True).tree
    reports = reports_of(client, project.id)
    files, refused, warnings = course_files(tree, reports)
    root = Path(out) / (folder or folder_name(project))
    written, unchanged, escaped = write_files(root, files)
    warnings += [f"{path}: refused: a symlink or folder is in the way" for path in escaped]
    return ExportResult(
        slug=slug,
        status="exported",
        folder=str(root),
        written=written,
        unchanged=unchanged,
        refused_paths=refused + escaped,
        warnings=warnings,
    )
