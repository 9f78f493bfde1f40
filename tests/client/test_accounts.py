"""One outbox per account: several creators (or several APIs) on one machine
never deliver each other's queued writes."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creatoros_client import Client
from creatoros_client.cli import app as cli
from creatoros_client.outbox import Account, OutboxStore, normalize_api, token_subject
from tests.client.conftest import LiveServer
from tests.factories import Creator

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def jwt(claims: dict[str, object]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.not-a-real-signature"


def test_the_subject_is_read_without_verifying_the_token() -> None:
    assert token_subject(jwt({"sub": "user-1", "role": "authenticated"})) == "user-1"
    assert token_subject(jwt({"role": "anon"})) is None
    assert token_subject("expired") is None
    assert token_subject("a.b.c") is None
    assert token_subject(None) is None
    assert normalize_api("HTTP://Example.com:80/") == "http://example.com"
    assert normalize_api("https://api.example:8443/v1/") == "https://api.example:8443/v1"
    one = Account.of("http://127.0.0.1:8000/", jwt({"sub": "a"}))
    assert one == Account.of("http://127.0.0.1:8000", jwt({"sub": "a", "exp": 1}))
    assert one.key != Account.of("http://127.0.0.1:8000", jwt({"sub": "b"})).key
    assert one.key != Account.of("http://127.0.0.1:8001", jwt({"sub": "a"})).key


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default outbox location, in this test's own directory."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CREATOROS_OUTBOX", raising=False)
    return tmp_path / "data" / "creatoros"


def slugs_of(url: str, creator: Creator) -> dict[str, bool]:
    """The projects this creator sees, and whether each is theirs."""
    with Client(url, token=creator.token) as api:
        me = api.minds.me()
        return {p.slug: p.creator_mind_id == me.mind_id for p in api.projects.iterate()}


def test_two_accounts_queue_while_down_and_each_flush_delivers_only_its_own(
    live: LiveServer, alice: Creator, bob: Creator, courses: Path, data_home: Path
) -> None:
    live.stop()  # the port refuses connections
    quick = ["--api", live.url, "--retry-budget", "0.5"]
    code, out = run("import", str(courses / "claude-code"), *quick, "--token", alice.token)
    assert code == 0 and "queued: claude-code" in out, out
    code, out = run("import", str(courses / "prompt-engineer"), *quick, "--token", bob.token)
    assert code == 0 and "queued: prompt-engineer" in out, out
    outboxes = sorted((data_home / "outboxes").glob("*.sqlite3"))
    assert len(outboxes) == 2, "one default outbox per account"

    code, out = run("outbox", "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["pending"] == 2
    assert {e["subject"] for e in status["entries"]} == {str(alice.user_id), str(bob.user_id)}
    code, out = run("outbox", "status", "--api", live.url, "--token", alice.token)
    assert out.startswith("1 pending") and "claude-code" in out and "prompt-engineer" not in out

    live.start()
    code, out = run("outbox", "flush", "--api", live.url, "--token", alice.token)
    assert code == 0, out
    assert "delivered: save course claude-code" in out and "prompt-engineer" not in out
    assert slugs_of(live.url, alice) == {"claude-code": True}
    assert "prompt-engineer" not in slugs_of(live.url, bob)

    code, out = run("outbox", "flush", "--api", live.url, "--token", bob.token)
    assert code == 0, out
    assert "delivered: save course prompt-engineer" in out
    assert slugs_of(live.url, bob).get("prompt-engineer") is True
    assert "prompt-engineer" not in slugs_of(live.url, alice)
    assert json.loads(run("outbox", "status", "--json")[1])["pending"] == 0


def test_a_shared_outbox_file_keeps_accounts_apart(
    live: LiveServer, alice: Creator, bob: Creator, courses: Path, tmp_path: Path
) -> None:
    shared = ["--outbox", str(tmp_path / "shared.sqlite3")]
    live.stop()
    for creator, name in ((alice, "claude-code"), (bob, "prompt-engineer")):
        code, out = run("import", str(courses / name), "--api", live.url, "--token",
                        creator.token, "--retry-budget", "0.5", *shared)  # fmt: skip
        assert code == 0 and f"queued: {name}" in out, out
    live.start()
    code, out = run("outbox", "flush", "--api", live.url, "--token", alice.token, *shared)
    assert code == 0, out
    assert "delivered: save course claude-code" in out
    assert "1 wait for another account" in out
    assert slugs_of(live.url, alice) == {"claude-code": True}
    assert "prompt-engineer" not in slugs_of(live.url, bob)

    # A new write by alice does not carry bob's entry along either.
    code, out = run("import", str(courses / "github-essencial"), "--api", live.url,
                    "--token", alice.token, *shared)  # fmt: skip
    assert code == 0 and "github-essencial: saved" in out, out
    assert "prompt-engineer" not in slugs_of(live.url, alice)

    code, out = run("outbox", "flush", "--api", live.url, "--token", bob.token, *shared)
    assert code == 0 and "delivered: save course prompt-engineer" in out, out
    assert slugs_of(live.url, bob).get("prompt-engineer") is True


OLD_SCHEMA = """
CREATE TABLE operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, summary TEXT NOT NULL,
    payload TEXT NOT NULL, created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
)
"""


def legacy_outbox(path: Path, slug: str) -> None:
    """The former single default outbox, as an older client left it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"method": "POST", "path": "/v1/projects", "headers":
               {"Idempotency-Key": "6f1c1ce2-9d5c-4a53-9a0e-6d8b0c1f2a3b"},
               "json": {"slug": slug, "name": "Old", "project_type": "book"}}  # fmt: skip
    with sqlite3.connect(path) as db:
        db.execute(OLD_SCHEMA)
        db.execute(
            "INSERT INTO operations (kind, summary, payload, created_at, attempts, last_error)"
            " VALUES ('request', 'POST /v1/projects', ?, 0, 1, 'down')",
            (json.dumps(payload),),
        )


def test_entries_of_no_account_wait_for_an_explicit_claim(
    live: LiveServer, alice: Creator, bob: Creator, data_home: Path
) -> None:
    legacy = data_home / "outbox.sqlite3"
    legacy_outbox(legacy, "from-before")
    code, out = run("outbox", "status")
    assert "1 of no account" in out and "from before outboxes were per account" in out

    # Never delivered silently into whichever account flushes first.
    code, out = run("outbox", "flush", "--api", live.url, "--token", bob.token)
    assert code == 0, out
    assert "delivered" not in out and "--claim-legacy" in out
    assert "from-before" not in slugs_of(live.url, bob)
    assert OutboxStore(legacy).pending() == 1

    code, out = run("outbox", "flush", "--api", live.url, "--token", alice.token,
                    "--claim-legacy")  # fmt: skip
    assert code == 0, out
    assert "claimed 1 entries of no account" in out and "delivered: POST /v1/projects" in out
    assert slugs_of(live.url, alice) == {"from-before": True}
    assert OutboxStore(legacy).pending() == 0
    assert "--claim-legacy" not in run("outbox", "flush", "--api", live.url,
                                       "--token", alice.token)[1]  # fmt: skip


def test_an_explicit_file_from_an_older_client_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    legacy_outbox(path, "old")
    account = Account("http://127.0.0.1:1", "someone")
    store = OutboxStore(path, account=account)
    assert store.counts() == (0, 0, 1)  # kept, of no account, not this account's
    store.add("request", "new", {}, "down")
    assert [e.account for e in OutboxStore(path).entries()] == [None, account]
    assert store.claim_legacy() == 1 and store.pending() == 2


def test_a_refused_token_is_not_queued_behind_its_accounts_entries(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    """alice's entries wait; a token with her subject but a bad signature
    (expired, say) is refused: the import stops with the hint, nothing is
    queued behind them, and her entry still waits for a good token."""
    outbox = ["--outbox", str(tmp_path / "o.sqlite3")]
    live.stop()
    code, out = run("import", str(courses / "claude-code"), "--api", live.url,
                    "--token", alice.token, "--retry-budget", "0.5", *outbox)  # fmt: skip
    assert code == 0 and "queued: claude-code" in out, out
    live.start()
    forged = jwt({"sub": str(alice.user_id), "role": "authenticated"})
    code, out = run("import", str(courses / "prompt-engineer"), "--api", live.url,
                    "--token", forged, *outbox)  # fmt: skip
    assert code == 1, out
    assert "refused: prompt-engineer: 401" in out and "creatoros token --user" in out
    assert OutboxStore(tmp_path / "o.sqlite3").pending() == 1
    code, out = run("outbox", "flush", "--api", live.url, "--token", alice.token, *outbox)
    assert code == 0 and "delivered: save course claude-code" in out, out
