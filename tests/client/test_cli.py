"""`creatoros-client import` and `outbox` (the same code as `creatoros
import|outbox`) against a live server."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

import creatoros_client.cli as client_cli
from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.ops.cli import cli as service_cli
from creatoros_client.cli import app as cli
from tests.client.conftest import COURSES, LiveServer
from tests.factories import Creator
from tests.trees.courses import FIXTURES

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


async def count(engine: AsyncEngine, table: str) -> int:
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_import_dry_run_then_import_then_rerun(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path, engine: AsyncEngine
) -> None:
    folders = [str(courses / name) for name in COURSES]
    common = ["--api", live.url, "--token", alice.token, "--outbox", str(tmp_path / "o.db")]

    code, out = run("import", *folders, *common, "--dry-run")
    assert code == 0, out
    assert "create lessons/1.1-claude-code-nao-e-magia.md" in out
    assert "create report research/market-analysis.md" in out
    assert "dry run: nothing was written" in out
    assert await count(engine, "content_projects") == 0
    assert await count(engine, "contents") == 0

    code, out = run("import", *folders, *common)
    assert code == 0, out
    assert "claude-code: saved" in out  # plain lines: not a terminal
    for name in COURSES:
        assert name in out
    assert await count(engine, "content_projects") == 3
    contents = await count(engine, "contents")

    code, out = run("import", *folders, *common, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert [c["status"] for c in report["courses"]] == ["saved"] * 3
    for course in report["courses"]:
        assert course["project"] == "unchanged"
        assert course["nodes"]["created"] == course["nodes"]["updated"] == 0
        assert course["research"]["created"] == course["research"]["updated"] == 0
    assert await count(engine, "contents") == contents

    code, out = run("import", folders[0], *common, "--dry-run", "--json")
    assert json.loads(out)["courses"][0]["changes"] == []


async def test_import_warns_about_broken_files_and_imports_the_rest(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    folder = courses / "prompt-engineer"
    (folder / "curriculum.yaml").write_text("modules: [\n")
    (folder / "lessons" / "4.4-latin.md").write_bytes("# Ação\n".encode("latin-1"))
    code, out = run("import", str(folder), "--api", live.url, "--token", alice.token,
                    "--outbox", str(tmp_path / "o.db"), "--json")  # fmt: skip
    assert code == 0, out
    course = json.loads(out)["courses"][0]
    assert course["status"] == "saved"
    assert any(w.startswith("curriculum.yaml: malformed YAML") for w in course["warnings"])
    assert any(w.startswith("lessons/4.4-latin.md: not valid UTF-8") for w in course["warnings"])
    assert course["nodes"]["created"] > 12


async def test_a_refused_token_stops_the_batch_saying_how_to_mint_one(
    live: LiveServer, courses: Path, tmp_path: Path, engine: AsyncEngine
) -> None:
    folders = [str(courses / "claude-code"), str(courses / "prompt-engineer")]
    outbox = str(tmp_path / "o.db")
    code, out = run("import", *folders, "--api", live.url, "--token", "expired", "--outbox", outbox)
    assert code == 1, out
    assert "refused: claude-code: 401 Unauthorized" in out
    assert "prompt-engineer" not in out  # stopped at the first course
    hint = [line for line in out.splitlines() if "creatoros token --user" in line]
    assert len(hint) == 1 and f"the API at {live.url} refused the token" in hint[0]
    assert "import" in out.split("refused: claude-code")[0]  # the summary table came first
    assert await count(engine, "content_projects") == 0


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A port that records connections without answering them: a usage error
    must not even connect."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", server
    finally:
        server.close()


def connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def test_usage_errors_exit_2_before_any_request(
    courses: Path, tmp_path: Path, listener: tuple[str, socket.socket]
) -> None:
    url, server = listener
    folder = str(courses / "claude-code")
    outbox = ["--outbox", str(tmp_path / "o.db")]
    port = url.rsplit(":", 1)[1]
    cases = {
        "not a folder": ["import", folder, str(courses / "nope"), "--api", url, "--token", "t"],
        "a file": ["import", str(courses / "claude-code" / "README.md"), "--api", url,
                   "--token", "t"],
        "no scheme": ["import", folder, "--api", f"127.0.0.1:{port}", "--token", "t"],
        "no token": ["import", folder, "--api", url],
        "empty token": ["import", folder, "--api", url, "--token", " "],
        "export, no scheme": ["export", "claude-code", "--api", "localhost", "--token", "t",
                              "--out", str(tmp_path / "out")],
        "export, no token": ["export", "claude-code", "--api", url, "--out", str(tmp_path)],
        "flush, no token": ["outbox", "flush", "--api", url],
        "flush, no api": ["outbox", "flush", "--token", "t"],
    }  # fmt: skip
    for name, args in cases.items():
        result = runner.invoke(cli, [*args, *outbox], env={"CREATOROS_TOKEN": None,
                                                           "CREATOROS_API": None})  # fmt: skip
        assert result.exit_code == 2, (name, result.output)
        assert not connected(server), f"{name}: a request was sent"
    assert "not a folder" in runner.invoke(cli, cases["not a folder"]).output
    assert (
        "--api must be an http:// or https:// URL" in runner.invoke(cli, cases["no scheme"]).output
    )


FIVE = ("claude-code", "github-essencial", "eneagrama", "prompt-engineer", "Marketing-com-IA-Brand")


async def test_one_failing_course_never_stops_the_others(
    live: LiveServer,
    alice: Creator,
    tmp_path: Path,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five folders, the reader breaks on the third (a fault injected into the
    reader only: HTTP and the database are real): four saved, one failed
    with the exception's message, the summary printed, exit 1."""
    for name in FIVE:
        shutil.copytree(FIXTURES / name, tmp_path / name)
    real = client_cli.read_courses

    def flaky(folder: Path):  # type: ignore[no-untyped-def]
        if folder.name == "eneagrama":
            raise RuntimeError("the reader tripped\n on this folder")
        return real(folder)

    monkeypatch.setattr(client_cli, "read_courses", flaky)
    folders = [str(tmp_path / name) for name in FIVE]
    code, out = run("import", *folders, "--api", live.url, "--token", alice.token,
                    "--outbox", str(tmp_path / "o.db"))  # fmt: skip
    assert code == 1, out
    assert "eneagrama: failed: RuntimeError: the reader tripped on this folder" in out
    for name in FIVE:
        if name != "eneagrama":
            assert f"{name}: saved" in out
    table = out.split("nodes +/~/=")[1]
    assert all(name[:10] in table for name in FIVE)
    assert "skipped" in out  # the skipped files' column
    assert await count(engine, "content_projects") == 4

    code, out = run("import", *folders, "--api", live.url, "--token", alice.token,
                    "--outbox", str(tmp_path / "o.db"), "--json")  # fmt: skip
    assert code == 1
    statuses = {c["course"]: c["status"] for c in json.loads(out)["courses"]}
    assert statuses == {name: "failed" if name == "eneagrama" else "saved" for name in FIVE}


async def test_an_exception_while_saving_fails_that_course_only(
    live: LiveServer,
    alice: Creator,
    courses: Path,
    tmp_path: Path,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = client_cli.read_courses

    def broken_plan(folder: Path):  # type: ignore[no-untyped-def]
        plans = real(folder)
        if folder.name == "github-essencial":
            plans[0].project.project_type = "not-a-type"  # the API refuses it: 422
        return plans

    monkeypatch.setattr(client_cli, "read_courses", broken_plan)
    folders = [str(courses / name) for name in COURSES]
    code, out = run("import", *folders, "--api", live.url, "--token", alice.token,
                    "--outbox", str(tmp_path / "o.db"))  # fmt: skip
    assert code == 1, out
    assert "refused: github-essencial: 422" in out
    assert "claude-code: saved" in out and "prompt-engineer: saved" in out
    assert await count(engine, "content_projects") == 2


def test_an_empty_folder_fails_alone(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    (courses / "empty").mkdir()
    code, out = run("import", str(courses / "empty"), str(courses / "prompt-engineer"),
                    "--api", live.url, "--token", alice.token, "--outbox",
                    str(tmp_path / "o.db"), "--json")  # fmt: skip
    result = {c["course"]: c for c in json.loads(out)["courses"]}
    assert result["prompt-engineer"]["status"] == "saved"
    # Today's reader reads an empty folder as a course with no files (saved);
    # the new one raises EmptyCourseFolder, naming it (failed).
    empty = result["empty"]
    assert empty["status"] in ("saved", "failed")
    if empty["status"] == "failed":
        assert code == 1 and "empty" in empty["error"]


def test_the_service_mounts_the_same_commands() -> None:
    commands = {c.name: c.callback for c in service_cli.registered_commands}
    assert commands["import"] is client_cli.import_courses
    assert commands["export"] is client_cli.export_projects
    groups = {g.name: g.typer_instance for g in service_cli.registered_groups}
    assert groups["outbox"] is client_cli.outbox_cli


def test_outbox_status_and_flush(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    outbox = str(tmp_path / "o.db")
    common = ["--api", live.url, "--token", alice.token, "--outbox", outbox]
    live.stop()
    code, out = run("import", str(courses / "github-essencial"), *common, "--retry-budget", "0.5")
    assert code == 0, out  # queued is not an error: the outbox delivers it
    assert "queued: github-essencial" in out

    code, out = run("outbox", "status", "--outbox", outbox, "--json")
    assert code == 0
    status = json.loads(out)
    assert status["pending"] == 1
    assert status["entries"][0]["summary"].startswith("save course github-essencial")

    code, out = run("outbox", "flush", *common, "--retry-budget", "0.5")
    assert code == 1 and "1 still pending" in out
    live.start()
    code, out = run("outbox", "flush", *common)
    assert code == 0, out
    assert "delivered: save course github-essencial" in out
    assert "0 still pending" in out
    code, out = run("outbox", "status", "--outbox", outbox)
    assert out.startswith("0 pending")


def test_a_terminal_gets_a_progress_bar_instead_of_lines(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "100"}
    result = runner.invoke(
        cli,
        ["import", str(courses / "prompt-engineer"), "--api", live.url, "--token", alice.token,
         "--outbox", str(tmp_path / "o.db")],
        env=terminal,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "importing prompt-engineer" in result.output
    assert "━" in result.output  # the bar
    assert "prompt-engineer: saved" not in result.output  # no plain lines
    assert "prompt-engineer" in result.output.split("import")[-1]  # the summary table


def test_a_program_folder_imports_each_track(
    live: LiveServer,
    alice: Creator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each plan the reader gives for a path is a course of the batch, named
    `program/track`. (The reader's track detection is its own tests'
    business: here it is stood in for, so the CLI's side is tested with any
    reader.)"""
    program = tmp_path / "programa"
    shutil.copytree(FIXTURES / "prompt-engineer", program / "trilha-1-prompts")
    shutil.copytree(FIXTURES / "github-essencial", program / "trilha-2-github")
    (program / "MANUAL.md").write_text("# Programa\n")
    real = client_cli.read_courses

    def tracks(folder: Path):  # type: ignore[no-untyped-def]
        if folder == program:
            return [plan for track in sorted(program.glob("trilha-*")) for plan in real(track)]
        return real(folder)

    monkeypatch.setattr(client_cli, "read_courses", tracks)
    code, out = run("import", str(program), "--api", live.url, "--token", alice.token,
                    "--outbox", str(tmp_path / "o.db"), "--json")  # fmt: skip
    assert code == 0, out
    courses = json.loads(out)["courses"]
    assert [c["course"] for c in courses] == [
        "programa/trilha-1-prompts",
        "programa/trilha-2-github",
    ]
    assert [c["status"] for c in courses] == ["saved", "saved"]
