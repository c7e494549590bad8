"""Build output in the shape of Kaniko's log (`INFO[0003] COPY . /kaptain`), on stdout."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TextIO

_LEVELS = {"panic": 0, "fatal": 1, "error": 2, "warn": 3, "info": 4, "debug": 5, "trace": 6}
_TAGS = {"error": "ERRO", "warn": "WARN", "info": "INFO", "debug": "DEBU", "trace": "TRAC"}


class BuildLog:
    """Writes leveled lines like Kaniko's logrus text output.

    Args:
        verbosity: the most detailed level shown (Kaniko's `--verbosity`).
        timestamps: print wall-clock timestamps instead of seconds since start (`--log-timestamp`).
        stream: where to write; default stdout (a pod's log).
    """

    def __init__(
        self, verbosity: str = "info", *, timestamps: bool = False, stream: TextIO | None = None
    ) -> None:
        self._level = _LEVELS.get(verbosity, _LEVELS["info"])
        self._timestamps = timestamps
        self._stream = stream if stream is not None else sys.stdout
        self._start = time.monotonic()

    def error(self, message: str) -> None:
        """Logs at error level."""
        self._emit("error", message)

    def warn(self, message: str) -> None:
        """Logs at warn level."""
        self._emit("warn", message)

    def info(self, message: str) -> None:
        """Logs at info level."""
        self._emit("info", message)

    def debug(self, message: str) -> None:
        """Logs at debug level."""
        self._emit("debug", message)

    def raw(self, text: str) -> None:
        """Writes command output (pip's) as it comes, like Kaniko does for RUN."""
        self._stream.write(text)
        self._stream.flush()

    def _emit(self, level: str, message: str) -> None:
        if _LEVELS[level] > self._level:
            return
        if self._timestamps:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            stamp = f"{int(time.monotonic() - self._start):04d}"
        for line in message.splitlines() or [""]:
            self._stream.write(f"{_TAGS[level]}[{stamp}] {line}\n")
        self._stream.flush()
