"""`creatoros import` and `creatoros outbox`: the scripts' side, from a shell.

Both speak to a running API over HTTP with `creatoros_client` — the same
code a generation script uses, never the database directly — so an import
goes through authentication and row level security like any other write.

Exit codes: 0 everything went in; 1 something was refused, failed or is
only queued (each named); 2 a usage error (Typer's own, or a bad path).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from creatoros_client import ApiError, CreatorOS, CreatorOSError, RetryPolicy, SaveResult

outbox_cli = typer.Typer(
    help="Writes queued while the API could not be reached.", no_args_is_help=True
)

Api = Annotated[str, typer.Option("--api", envvar="CREATOROS_API", help="The API's base URL.")]
Token = Annotated[
    str, typer.Option("--token", envvar="CREATOROS_TOKEN", help="A bearer token (JWT).")
]
OutboxPath = Annotated[
    Path | None,
    typer.Option(
        "--outbox",
        envvar="CREATOROS_OUTBOX",
        help="The outbox file (default: under your user data directory).",
    ),
]
RetryBudget = Annotated[
    float,
    typer.Option(
        "--retry-budget",
        envvar="CREATOROS_RETRY_BUDGET",
        min=0.1,
        max=600,
        help="Seconds to keep retrying an unreachable API before queueing.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _client(api: str, token: str, outbox: Path | None, budget: float) -> CreatorOS:
    return CreatorOS(api, token=token, outbox=outbox, retry=RetryPolicy(budget=budget))


def _refusal(course: str, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        problem = exc.problem
        return {
            "course": course,
            "status": exc.status,
            "error": f"{problem.title}: {problem.detail or ''}".rstrip(": "),
            "errors": [e.model_dump() for e in problem.errors or []],
        }
    return {"course": course, "status": None, "error": str(exc), "errors": []}


def import_courses(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Course folders (outputs/courses/{slug}).", show_default=False),
    ],
    api: Api,
    token: Token,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Delete nodes and reports the folder no longer has."),
    ] = False,
    as_json: AsJson = False,
    outbox: OutboxPath = None,
    retry_budget: RetryBudget = 20.0,
) -> None:
    """Import course folders: project, content tree and research reports each.
    Re-running changes nothing; saves the API cannot take now are queued."""
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        typer.secho(f"error: not a folder: {', '.join(missing)}", err=True, fg="red")
        raise typer.Exit(2)
    console = Console()
    if not console.is_terminal:
        console.width = 160  # a log or a pipe: no need to squeeze the table into 80 columns
    results: list[SaveResult] = []
    refused: list[dict[str, Any]] = []
    with _client(api, token, outbox, retry_budget) as client:
        bar = console.is_terminal and not as_json
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            console=console, disable=not bar, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("importing", total=len(paths))
            for path in paths:
                progress.update(task, description=f"importing {path.name}")
                try:
                    result = client.save_course(path, prune=prune, dry_run=dry_run)
                except CreatorOSError as exc:
                    refused.append(_refusal(path.name, exc))
                    if not bar and not as_json:
                        console.print(f"{path.name}: refused: {refused[-1]['error']}")
                else:
                    results.append(result)
                    if not bar and not as_json:
                        console.print(f"{path.name}: {result.status}")
                progress.advance(task)
    if as_json:
        payload = {
            "courses": [r.model_dump(mode="json") for r in results],
            "refused": refused,
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print_summary(console, results, refused, dry_run)
    queued = [r for r in results if r.status == "queued"]
    raise typer.Exit(1 if refused or queued else 0)


def _print_summary(
    console: Console, results: list[SaveResult], refused: list[dict[str, Any]], dry_run: bool
) -> None:
    if dry_run:
        for result in results:
            console.print(f"[bold]{result.course}[/bold] (project: {result.project})")
            for change in result.changes or ["nothing to change"]:
                console.print(f"  {change}")
    table = Table(title="dry run: nothing was written" if dry_run else "import")
    for column in ("course", "status", "project", "nodes +/~/=", "research +/~/=", "warnings"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.course, r.status, r.project or "-",
            f"{r.nodes.created}/{r.nodes.updated}/{r.nodes.unchanged}"
            + (f" -{r.nodes.deleted}" if r.nodes.deleted else ""),
            f"{r.research.created}/{r.research.updated}/{r.research.unchanged}"
            + (f" -{r.research.deleted}" if r.research.deleted else ""),
            str(len(r.warnings)),
        )  # fmt: skip
    for refusal in refused:
        table.add_row(refusal["course"], "refused", "-", "-", "-", "-")
    console.print(table)
    console.print("+ created, ~ updated, = unchanged, - deleted")
    for r in results:
        for warning in r.warnings:
            console.print(f"warning: {r.course}: {warning}", markup=False)
        if r.status == "queued":
            console.print(
                f"queued: {r.course} ({r.reason}); `creatoros outbox flush` delivers it",
                markup=False,
            )
    for refusal in refused:
        console.print(f"refused: {refusal['course']}: {refusal['error']}", markup=False)
        for issue in refusal["errors"]:
            where = ".".join(str(p) for p in issue["loc"])
            console.print(f"  {where}: {issue['msg']}", markup=False)


@outbox_cli.command("status")
def outbox_status(
    outbox: OutboxPath = None,
    as_json: AsJson = False,
    api: Annotated[str | None, typer.Option("--api", envvar="CREATOROS_API", hidden=True)] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="CREATOROS_TOKEN", hidden=True)
    ] = None,
) -> None:
    """What waits in the outbox, oldest first (no API needed)."""
    client = CreatorOS(api or "http://unused", token=token, outbox=outbox)
    entries = client.outbox.entries()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "outbox": str(client.outbox.store.path) if client.outbox.store else None,
                    "pending": len(entries),
                    "entries": [
                        {"id": e.id, "summary": e.summary, "attempts": e.attempts,
                         "last_error": e.last_error, "created_at": e.created_at}
                        for e in entries
                    ],
                },
                indent=2,
            )
        )  # fmt: skip
        return
    store = client.outbox.store
    typer.echo(f"{len(entries)} pending in {store.path if store else '-'}")
    for e in entries:
        typer.echo(f"  #{e.id} {e.summary} (attempts: {e.attempts}; last error: {e.last_error})")


@outbox_cli.command("flush")
def outbox_flush(
    api: Api,
    token: Token,
    outbox: OutboxPath = None,
    as_json: AsJson = False,
    retry_budget: RetryBudget = 20.0,
) -> None:
    """Deliver what waits, oldest first; stop at the first failure (exit 1)."""
    with _client(api, token, outbox, retry_budget) as client:
        result = client.outbox.flush()
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        for summary in result.delivered:
            typer.echo(f"delivered: {summary}")
        if result.busy:
            typer.echo(f"busy: {result.error}", err=True)
        elif not result.ok:
            typer.echo(f"failed: {result.failed}: {result.error}", err=True)
        typer.echo(f"{result.pending} still pending")
    raise typer.Exit(0 if result.ok else 1)
