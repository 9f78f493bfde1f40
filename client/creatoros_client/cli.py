"""`creatoros-client import|export|diff|outbox`: the scripts' side, from a shell.

The same commands are `creatoros import|export|outbox` in the service (its
CLI mounts these). They speak to a running API over HTTP with this client —
never the database directly — so an import goes through authentication and
row level security like any other write.

Exit codes: 0 every course saved or queued (every project exported); 1 any
refused (the API's 4xx, named) or failed (an unexpected error, its message);
2 a usage error, before anything is sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from creatoros_client import course as reader
from creatoros_client._core import ApiError, RetryPolicy
from creatoros_client.client import Client
from creatoros_client.course import CoursePlan
from creatoros_client.creatoros import CreatorOS
from creatoros_client.export import (
    ExportResult,
    ProjectNotFound,
    export_project,
    find_project,
    folder_name,
)
from creatoros_client.models import Problem, RevisionDiff
from creatoros_client.outbox import (
    Account,
    OutboxStore,
    account_outboxes,
    default_path,
    legacy_path,
)
from creatoros_client.persist import SaveResult

app = typer.Typer(
    name="creatoros-client",
    help="The CreatorOS Content API from a shell: import course folders, export "
    "projects as folders, and the outbox of writes queued while the API was away.",
    no_args_is_help=True,
    add_completion=False,
)
outbox_cli = typer.Typer(
    help="Writes queued while the API could not be reached.", no_args_is_help=True
)
app.add_typer(outbox_cli, name="outbox")

Api = Annotated[str, typer.Option("--api", envvar="CREATOROS_API", help="The API's base URL.")]
Token = Annotated[
    str, typer.Option("--token", envvar="CREATOROS_TOKEN", help="A bearer token (JWT).")
]
OutboxPath = Annotated[
    Path | None,
    typer.Option(
        "--outbox",
        envvar="CREATOROS_OUTBOX",
        help="The outbox file (default: one per account under your user data directory).",
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


def read_courses(folder: Path) -> list[CoursePlan]:
    """The reader's `read_courses`: one plan per course, one per track of a
    program folder. (With a reader that only has `read_course`: one plan.)"""
    read_many = getattr(reader, "read_courses", None)
    if read_many is not None:
        return list(read_many(folder))
    return [reader.read_course(folder)]


def _usage(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg="red")
    raise typer.Exit(2)


def _check_api(api: str) -> None:
    parts = urlsplit(api)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _usage(f"--api must be an http:// or https:// URL (got {api!r})")


def _check_token(token: str | None) -> None:
    if not token or not token.strip():
        _usage("a token is needed: --token or CREATOROS_TOKEN")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def mint_hint(api: str, exc: ApiError) -> str:
    """One line: the token was refused, and how to get one for this API."""
    detail = exc.problem.detail or exc.problem.title
    return (
        f"error: the API at {api} refused the token (401: {detail}); mint one for this API "
        "where it runs — `creatoros token --user <your user id>` (signed with that server's "
        "JWT_SECRET; `creatoros minds create --slug <you>` prints the user id) — and pass it "
        "as --token or CREATOROS_TOKEN"
    )


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = 160  # a log or a pipe: no need to squeeze the table into 80 columns
    return console


Status = Literal["saved", "planned", "queued", "refused", "failed"]


class CourseOutcome(BaseModel):
    """How one course of a batch ended."""

    course: str  # the folder given, or `program/track` for a track of a program
    folder: str
    status: Status
    result: SaveResult | None = None
    error: str | None = None
    http_status: int | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    skipped: list[dict[str, str]] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        base = self.result.model_dump(mode="json") if self.result else {}
        return {
            **base,
            "course": self.course,
            "slug": self.result.course if self.result else None,
            "folder": self.folder,
            "status": self.status,
            "error": self.error,
            "http_status": self.http_status,
            "errors": self.errors,
            "warnings": self.warnings,
            "skipped": self.skipped,
        }


def _name_of(path: Path, plan: CoursePlan) -> str:
    folder = Path(plan.folder)
    try:
        inner = folder.resolve().relative_to(path.resolve())
    except ValueError:
        return folder.name
    return path.name if inner == Path() else f"{path.name}/{inner.as_posix()}"


def _skipped_of(plan: CoursePlan) -> list[dict[str, str]]:
    return [
        {"path": str(getattr(s, "path", s)), "reason": str(getattr(s, "reason", ""))}
        for s in getattr(plan, "skipped", [])
    ]


def _refused(name: str, plan: CoursePlan, exc: ApiError) -> CourseOutcome:
    problem = exc.problem
    return CourseOutcome(
        course=name,
        folder=plan.folder,
        status="refused",
        error=f"{exc.status} {problem.title}" + (f": {problem.detail}" if problem.detail else ""),
        http_status=exc.status,
        errors=[e.model_dump() for e in problem.errors or []],
        warnings=list(plan.warnings),
        skipped=_skipped_of(plan),
    )


@app.command("import")
def import_courses(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Course folders (outputs/courses/{slug}); a program folder imports each track.",
            show_default=False,
        ),
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
    Re-running changes nothing; saves the API cannot take now are queued.
    One course's error never stops the others (a refused token does)."""
    _check_api(api)
    _check_token(token)
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        _usage(f"not a folder: {', '.join(missing)}")
    console = _console()
    outcomes: list[CourseOutcome] = []
    stopped: ApiError | None = None
    bar = console.is_terminal and not as_json
    client = CreatorOS(api, token=token, outbox=outbox, retry=RetryPolicy(budget=retry_budget))
    with client, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=console, disable=not bar, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("importing", total=len(paths))

        def note(outcome: CourseOutcome) -> None:
            outcomes.append(outcome)
            if not bar and not as_json:
                line = f"{outcome.course}: {outcome.status}"
                console.print(line + (f": {outcome.error}" if outcome.error else ""), markup=False)
            progress.advance(task)

        for path in paths:
            if stopped is not None:
                break
            progress.update(task, description=f"reading {path.name}")
            try:
                plans = read_courses(path)
            except Exception as exc:  # the reader's bug, or an empty folder: this path only
                note(CourseOutcome(course=path.name, folder=str(path), status="failed",
                                   error=one_line(exc)))  # fmt: skip
                continue
            if len(plans) != 1:
                total = progress.tasks[0].total or 0
                progress.update(task, total=total + len(plans) - 1)
            for plan in plans:
                name = _name_of(path, plan)
                progress.update(task, description=f"importing {name}")
                try:
                    result = client.save_plan(plan, prune=prune, dry_run=dry_run)
                except ApiError as exc:
                    note(_refused(name, plan, exc))
                    if exc.status == 401:
                        stopped = exc
                        break
                except Exception as exc:  # anything unexpected: this course only
                    note(CourseOutcome(course=name, folder=plan.folder, status="failed",
                                       error=one_line(exc), warnings=list(plan.warnings),
                                       skipped=_skipped_of(plan)))  # fmt: skip
                else:
                    note(CourseOutcome(course=name, folder=plan.folder, status=result.status,
                                       result=result, warnings=list(result.warnings),
                                       skipped=_skipped_of(plan)))  # fmt: skip
    if as_json:
        payload: dict[str, Any] = {"courses": [o.as_json() for o in outcomes]}
        if stopped is not None:
            payload["stopped"] = mint_hint(api, stopped)
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print_summary(console, outcomes, dry_run)
    if stopped is not None:
        typer.secho(mint_hint(api, stopped), err=True, fg="red")
    bad = any(o.status in ("refused", "failed") for o in outcomes)
    raise typer.Exit(1 if bad else 0)


def _counts(counts: Any) -> str:
    text = f"{counts.created}/{counts.updated}/{counts.unchanged}"
    return text + (f" -{counts.deleted}" if counts.deleted else "")


def _print_summary(console: Console, outcomes: list[CourseOutcome], dry_run: bool) -> None:
    if dry_run:
        for o in outcomes:
            if o.result is not None:
                console.print(f"[bold]{o.course}[/bold] (project: {o.result.project})")
                for change in o.result.changes or ["nothing to change"]:
                    console.print(f"  {change}", markup=False)
    table = Table(title="dry run: nothing was written" if dry_run else "import")
    table.add_column("course", no_wrap=True)  # the name stays whole in 80 columns
    for column in ("status", "project", "nodes +/~/=", "research +/~/=", "revision",
                   "skipped", "warnings"):  # fmt: skip
        table.add_column(column)
    for o in outcomes:
        r = o.result
        table.add_row(
            o.course, o.status, (r.project if r else None) or "-",
            _counts(r.nodes) if r else "-", _counts(r.research) if r else "-",
            str(r.revision) if r and r.revision else "-",
            str(len(o.skipped)), str(len(o.warnings)),
        )  # fmt: skip
    console.print(table)
    console.print("+ created, ~ updated, = unchanged, - deleted")
    for o in outcomes:
        for warning in o.warnings:
            console.print(f"warning: {o.course}: {warning}", markup=False)
    for o in outcomes:
        if o.status == "queued" and o.result is not None:
            console.print(
                f"queued: {o.course} ({o.result.reason}); `outbox flush` delivers it",
                markup=False,
            )
        elif o.status in ("refused", "failed"):
            console.print(f"{o.status}: {o.course}: {o.error}", markup=False)
            for issue in o.errors:
                where = ".".join(str(p) for p in issue.get("loc", []))
                console.print(f"  {where}: {issue.get('msg')}", markup=False)


@app.command("export")
def export_projects(
    slugs: Annotated[list[str], typer.Argument(help="Project slugs.", show_default=False)],
    api: Api,
    token: Token,
    out: Annotated[Path, typer.Option("--out", help="The folder to write course folders into.")],
    as_json: AsJson = False,
    retry_budget: RetryBudget = 20.0,
) -> None:
    """Write projects back as course folders: OUT/<the folder they were
    imported from, or the slug>/, every node and report at its file path.
    A file already there with the same bytes is not rewritten."""
    _check_api(api)
    _check_token(token)
    if out.exists() and not out.is_dir():
        _usage(f"--out is not a folder: {out}")
    console = _console()
    results: list[ExportResult] = []
    stopped: ApiError | None = None
    taken: dict[str, str] = {}
    with Client(api, token=token, retry=RetryPolicy(budget=retry_budget)) as client:
        for slug in slugs:
            try:
                # Two projects imported from folders of the same name: the
                # second one goes to its slug.
                project = find_project(client, slug)
                name = folder_name(project)
                if taken.setdefault(name, slug) != slug:
                    name = slug
                result = export_project(client, slug, out, folder=name)
            except ApiError as exc:
                detail = exc.problem.detail
                error = f"{exc.status} {exc.problem.title}" + (f": {detail}" if detail else "")
                result = ExportResult(slug=slug, status="refused", error=error,
                                      http_status=exc.status)  # fmt: skip
                if exc.status == 401:
                    stopped = exc
            except ProjectNotFound as exc:
                result = ExportResult(slug=slug, status="refused", error=str(exc))
            except Exception as exc:
                result = ExportResult(slug=slug, status="failed", error=one_line(exc))
            results.append(result)
            if not as_json:
                line = f"{slug}: {result.status}"
                console.print(line + (f": {result.error}" if result.error else ""), markup=False)
            if stopped is not None:
                break
    if as_json:
        typer.echo(json.dumps({"projects": [r.model_dump(mode="json") for r in results]},
                              indent=2, ensure_ascii=False))  # fmt: skip
    else:
        table = Table(title="export")
        for column in ("project", "status", "folder", "written", "unchanged", "refused paths"):
            table.add_column(column)
        for r in results:
            table.add_row(r.slug, r.status, r.folder or "-", str(r.written), str(r.unchanged),
                          str(len(r.refused_paths)))  # fmt: skip
        console.print(table)
        for r in results:
            for warning in r.warnings:
                console.print(f"warning: {r.slug}: {warning}", markup=False)
    if stopped is not None:
        typer.secho(mint_hint(api, stopped), err=True, fg="red")
    bad = any(r.status != "exported" or r.refused_paths for r in results)
    raise typer.Exit(1 if bad else 0)


def diff_text(diff: RevisionDiff) -> str:
    """A revision diff as a person reads it: one line per node, the fields
    that changed (old → new), then the body's unified diff."""
    lines = [f"revision {diff.from_revision} → {diff.to_revision}: {len(diff.nodes)} node(s)"]
    for node in diff.nodes:
        lines.append(f"{node.change} {node.slug} ({node.title})")
        for name in node.fields:
            if name == "content":
                continue
            before = json.dumps(node.before.get(name), ensure_ascii=False)
            after = json.dumps(node.after.get(name), ensure_ascii=False)
            lines.append(f"  {name}: {before} → {after}")
        if node.body_diff:
            lines += ["  " + line for line in node.body_diff.splitlines()]
    return "\n".join(lines)


@app.command("diff")
def diff_revisions(
    slug: Annotated[str, typer.Argument(help="The project's slug.", show_default=False)],
    start: Annotated[int, typer.Option("--from", min=1, help="A revision number.")],
    end: Annotated[int, typer.Option("--to", min=1, help="Another one.")],
    api: Api,
    token: Token,
    as_json: AsJson = False,
) -> None:
    """What changed in a project between two revisions: per node, added,
    removed, moved or changed, and a unified diff of each changed body."""
    _check_api(api)
    _check_token(token)
    with Client(api, token=token) as client:
        try:
            project = find_project(client, slug)
            diff = client.diff(project.id, start, end)
        except ProjectNotFound as exc:
            typer.secho(str(exc), err=True, fg="red")
            raise typer.Exit(1) from exc
        except ApiError as exc:
            typer.secho(f"{exc.status} {exc.problem.title}: {exc.problem.detail}", err=True,
                        fg="red")  # fmt: skip
            raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(diff.model_dump(mode="json", by_alias=True), indent=2,
                              ensure_ascii=False))  # fmt: skip
    else:
        typer.echo(diff_text(diff))


def _entry_json(e: Any) -> dict[str, Any]:
    return {"id": e.id, "summary": e.summary, "attempts": e.attempts,
            "last_error": e.last_error, "created_at": e.created_at,
            "api": e.api, "subject": e.subject}  # fmt: skip


@outbox_cli.command("status")
def outbox_status(
    outbox: OutboxPath = None,
    as_json: AsJson = False,
    api: Annotated[
        str | None,
        typer.Option("--api", envvar="CREATOROS_API", help="With --token: this account's."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="CREATOROS_TOKEN", help="With --api: this account's."),
    ] = None,
) -> None:
    """What waits, oldest first (no request is sent). With --api and --token:
    that account's entries; else every account's on this machine."""
    account = None
    if api and token:
        _check_api(api)
        account = Account.of(api, token)
    if outbox is not None or account is not None:
        paths = [outbox if outbox is not None else default_path(account)]
    else:
        paths = account_outboxes()
    legacy = legacy_path()
    if outbox is None and legacy.is_file() and legacy not in paths:
        paths.append(legacy)
    report: list[dict[str, Any]] = []
    for path in paths:
        if path != outbox and not path.is_file():
            continue
        entries = OutboxStore(path).entries()
        mine = [e for e in entries if (e.account == account if account else e.api is not None)]
        unclaimed = [e for e in entries if e.api is None]
        report.append({
            "outbox": str(path),
            "legacy": path == legacy and outbox is None,
            "pending": len(mine),
            "others": len(entries) - len(mine) - len(unclaimed),
            "no_account": len(unclaimed),
            "entries": [_entry_json(e) for e in mine],
            "no_account_entries": [_entry_json(e) for e in unclaimed],
        })  # fmt: skip
    pending = sum(r["pending"] for r in report)
    if as_json:
        typer.echo(json.dumps({
            "outbox": report[0]["outbox"] if len(report) == 1 else None,
            "account": {"api": account.api, "subject": account.subject} if account else None,
            "pending": pending,
            "no_account": sum(r["no_account"] for r in report),
            "entries": [e for r in report for e in r["entries"]],
            "outboxes": report,
        }, indent=2))  # fmt: skip
        return
    where = report[0]["outbox"] if len(report) == 1 else f"{len(report)} outboxes"
    typer.echo(f"{pending} pending in {where}" + (f" for {account}" if account else ""))
    for r in report:
        if len(report) > 1 or r["legacy"]:
            note = " (from before outboxes were per account)" if r["legacy"] else ""
            typer.echo(f"{r['outbox']}:{note}")
        for e in r["entries"]:
            whose = f"{e['subject'] or 'no subject'} at {e['api']}"
            typer.echo(f"  #{e['id']} {e['summary']} ({whose}; attempts: {e['attempts']};"
                       f" last error: {e['last_error']})")  # fmt: skip
        if r["others"]:
            typer.echo(f"  {r['others']} more for other accounts")
        for e in r["no_account_entries"]:
            typer.echo(f"  #{e['id']} {e['summary']} (no account; attempts: {e['attempts']})")
        if r["no_account"]:
            typer.echo(f"  {r['no_account']} of no account: `outbox flush --claim-legacy`"
                       " delivers them with that token")  # fmt: skip


@outbox_cli.command("flush")
def outbox_flush(
    api: Api,
    token: Token,
    outbox: OutboxPath = None,
    claim_legacy: Annotated[
        bool,
        typer.Option(
            "--claim-legacy",
            help="Deliver, with this token, the entries queued before outboxes were per "
            "account (they record no account). Only when they are this account's.",
        ),
    ] = False,
    as_json: AsJson = False,
    retry_budget: RetryBudget = 20.0,
) -> None:
    """Deliver this account's queued writes, oldest first; stop at the first
    failure (exit 1). Other accounts' entries are left for their tokens."""
    _check_api(api)
    _check_token(token)
    client = CreatorOS(api, token=token, outbox=outbox, retry=RetryPolicy(budget=retry_budget))
    with client:
        claimed = client.outbox.claim_legacy() if claim_legacy else 0
        result = client.outbox.flush()
    if as_json:
        typer.echo(json.dumps({**result.model_dump(mode="json"), "claimed": claimed}, indent=2))
    else:
        if claimed:
            typer.echo(f"claimed {claimed} entries of no account for {client.outbox.account}")
        for summary in result.delivered:
            typer.echo(f"delivered: {summary}")
        if result.busy:
            typer.echo(f"busy: {result.error}", err=True)
        elif not result.ok:
            typer.echo(f"failed: {result.failed}: {result.error}", err=True)
        typer.echo(f"{result.pending} still pending")
        if result.others:
            typer.echo(f"{result.others} wait for another account (flush with its token)")
        if result.legacy:
            typer.echo(
                f"{result.legacy} queued before outboxes were per account record no account: "
                "`outbox flush --claim-legacy` delivers them with this token, if they are yours"
            )
    if result.status == 401:
        typer.secho(mint_hint(api, ApiError(401, _problem(result.error))), err=True, fg="red")
    raise typer.Exit(0 if result.ok else 1)


def _problem(detail: str | None) -> Problem:
    return Problem(title="Unauthorized", status=401, detail=detail)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
