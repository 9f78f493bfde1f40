"""One status line on stderr while seeding and measuring.

On a terminal the line is rewritten in place; when stderr is a file or a
pipe (CI logs), an update is written as its own line at most every few
seconds, so the log stays readable. No dependency: this is all we need.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO = sys.stderr, interval: float = 5.0) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval
        self._last = 0.0
        self._width = 0

    def update(self, text: str) -> None:
        now = time.monotonic()
        if self._tty:
            if now - self._last < 0.1:
                return
            pad = max(0, self._width - len(text))
            self._stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            if now - self._last < self._interval:
                return
            self._stream.write(text + "\n")
        self._last = now
        self._stream.flush()

    def done(self, text: str) -> None:
        """Replace the status line with a permanent one."""
        if self._tty:
            pad = max(0, self._width - len(text))
            self._stream.write("\r" + text + " " * pad + "\n")
            self._width = 0
        else:
            self._stream.write(text + "\n")
        self._last = 0.0
        self._stream.flush()
