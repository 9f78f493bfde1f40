"""A real browser for the tests: headless Chromium (Debian's `chromium`,
`.ci/run` installs it) driven over the DevTools protocol.

No Selenium or Playwright (they download their own browsers): the machine's
Chromium started with `--remote-debugging-port`, one page target, and two
protocol commands over a websocket (`websockets`, which `uvicorn[standard]`
brings and the dev extra pins): `Page.navigate`, and `Runtime.evaluate`
with `awaitPromise`, whose JSON value is what the page's script returned.
Outside CI a machine without Chromium skips the tests that need it, saying
why; in CI (`CI=true`) they fail (`tests.helpers.required_program`).

Also the other origin such a test needs: a second HTTP server, on a port of
its own, that serves one page.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.helpers import required_program

CHROMIUM_PATHS = ("chromium", "chromium-browser", "/usr/bin/chromium", "/usr/lib/chromium/chromium")
STARTS_WITHIN_SECONDS = 30
# Whatever the page's script does must be done by then (a hung fetch fails the test).
EVALUATE_TIMEOUT_SECONDS = 60


def chromium_binary() -> str:
    """The browser, or skip (fail in CI) with the reason."""
    return required_program(
        CHROMIUM_PATHS,
        "Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)",
    )


class BrowserError(AssertionError):
    """The page's script threw, or the protocol refused a command."""


class Page:
    """One tab, spoken to over its DevTools websocket: commands and their answers
    (events the tab sends meanwhile are not needed here, and are dropped)."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        command_id = next(self._ids)
        await self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self._socket.recv())
            if message.get("id") != command_id:
                continue
            if "error" in message:
                raise BrowserError(f"{method}: {message['error']}")
            result: dict[str, Any] = message["result"]
            return result

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression` in the page, its promise awaited."""
        answer = await asyncio.wait_for(
            self.send(
                "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
            ),
            EVALUATE_TIMEOUT_SECONDS,
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"the page's script threw: {thrown}")
        return answer["result"].get("value")

    async def open(self, url: str) -> None:
        """Navigate and wait until the page (and its scripts) has loaded."""
        await self.send("Page.navigate", url=url)
        deadline = time.monotonic() + STARTS_WITHIN_SECONDS
        while time.monotonic() < deadline:
            state = await self.evaluate("[location.href, document.readyState]")
            if state == [url, "complete"]:
                return
            await asyncio.sleep(0.05)
        raise BrowserError(f"{url} did not load within {STARTS_WITHIN_SECONDS}s")


@contextmanager
def _chromium_process() -> Iterator[int]:
    """Headless Chromium with a throwaway profile; yields its DevTools port.

    Port 0 lets Chromium pick a free one, which it writes to
    `DevToolsActivePort` in the profile once it listens: no race for a port.
    """
    binary = chromium_binary()
    profile = Path(tempfile.mkdtemp(prefix="creatoros-chromium-"))
    args = [
        binary,
        "--headless",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-extensions",
        "--disable-background-networking",
        # Containers give /dev/shm 64 MB; Chromium's renderers need more.
        "--disable-dev-shm-usage",
        "about:blank",
    ]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    process = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: its helpers go with it
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTS_WITHIN_SECONDS
        while not (active.exists() and active.read_text().count("\n") >= 1):
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                process.kill()
                raise BrowserError(f"Chromium did not start: {stderr[-2000:]}")
            time.sleep(0.05)
        yield int(active.read_text().split("\n", 1)[0])
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


@asynccontextmanager
async def chromium_page() -> AsyncIterator[Page]:
    """A tab of a fresh headless Chromium (skipped, or failed in CI, without one)."""
    with _chromium_process() as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as devtools:
            targets = (await devtools.get("/json/list")).json()
        tab = next(t for t in targets if t["type"] == "page")
        # Results are small; a page's protocol messages can be larger than the default 1 MiB.
        async with connect(tab["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)


@contextmanager
def page_origin(directory: Path) -> Iterator[str]:
    """Another origin: an HTTP server on a port of its own serving `directory`;
    yields its origin (`http://127.0.0.1:PORT`)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
