"""uvicorn serving the app on a real port, in a thread, for tests that speak
HTTP over a socket (schemathesis, generated clients, the scripts' client),
and that can be stopped and started again on the same port (the outbox
tests need the API to go away and come back)."""

from __future__ import annotations

import threading
import time

import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.helpers import free_port


class LiveServer:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        app = create_app(self.settings, database_url=self.database_url)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
            self._server = self._thread = None
