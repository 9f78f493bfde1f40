"""`creatoros import` and `creatoros outbox` against a live server."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.ops.cli import cli
from tests.client.conftest import COURSES, LiveServer
from tests.factories import Creator

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
    assert report["refused"] == []
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


def test_refusals_are_named_and_exit_1(live: LiveServer, courses: Path, tmp_path: Path) -> None:
    folders = [str(courses / "claude-code"), str(courses / "prompt-engineer")]
    outbox = str(tmp_path / "o.db")
    code, out = run("import", *folders, "--api", live.url, "--token", "expired", "--outbox", outbox)
    assert code == 1
    assert "refused: claude-code: Unauthorized" in out
    assert "refused: prompt-engineer: Unauthorized" in out


def test_usage_errors_exit_2(courses: Path) -> None:
    assert run("import", str(courses / "nope"), "--api", "http://x", "--token", "t")[0] == 2
    assert run("import", str(courses / "claude-code"), "--token", "t")[0] == 2
    assert run("outbox", "flush", "--token", "t")[0] == 2


def test_outbox_status_and_flush(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    outbox = str(tmp_path / "o.db")
    common = ["--api", live.url, "--token", alice.token, "--outbox", outbox]
    live.stop()
    code, out = run("import", str(courses / "github-essencial"), *common, "--retry-budget", "0.5")
    assert code == 1, out
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
