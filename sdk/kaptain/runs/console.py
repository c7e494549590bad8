"""What the person at the keyboard sees of the SDK's logging: the ``kaptain-log`` console.

`setup_console` (called by every SDK call that starts or follows a run) does, once per process:

* When the program has not configured logging (the root logger has no handler, as in a fresh
  notebook or script), ``kaptain-log`` records are printed on standard output (a notebook shows
  standard error as errors) as ``<time> <LEVEL> <message>``, the time formatted with
  ``KAPTAIN_SDK_LOG_TIMEFORMAT`` (``%f`` gives microseconds). Once the program configures the root
  logger, records go to its handlers instead, so nothing is printed twice.
* The ``kaptain-log`` level is INFO, or DEBUG with ``KAPTAIN_SDK_DEBUG`` (unless the program set a
  level itself).
* Tracebacks are shown only with ``KAPTAIN_SDK_DEBUG``: without it a logged exception is reduced to
  its ``Type: message`` line, and an uncaught `KaptainException` (in a script, or a notebook cell)
  prints only ``Type: message``, as the original SDK did. Other exceptions keep their tracebacks.

Settings are read when a record is printed, so ``envs.DEBUG = True`` takes effect at once.

A live status line (the progress display in a terminal) registers with `status_line`; records
printed meanwhile first clear it and then draw it again, so log lines and the status line never
overwrite each other.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, Final, TextIO

from kaptain import envs
from kaptain.exceptions import KaptainException
from kaptain.platform.constants import LOGGER_NAME

__all__ = ["ConsoleFormatter", "ConsoleHandler", "setup_console", "status_line"]

_CLEAR_LINE: Final = "\r\x1b[2K"

_lock = threading.Lock()
_done = False
_status: Callable[[], str] | None = None


class ConsoleFormatter(logging.Formatter):
    """``<time> <LEVEL> <message>``; the time in ``KAPTAIN_SDK_LOG_TIMEFORMAT``, tracebacks only with
    ``KAPTAIN_SDK_DEBUG``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # time.strftime knows no %f, which the default format uses; datetime's does.
        return datetime.fromtimestamp(record.created).strftime(datefmt or envs.LOG_TIMEFORMAT)

    def formatException(self, ei: Any) -> str:
        if envs.DEBUG:
            return super().formatException(ei)
        return "".join(traceback.format_exception_only(ei[0], ei[1])).rstrip()

    def format(self, record: logging.LogRecord) -> str:
        # The cached text would keep a traceback rendered under another DEBUG setting.
        record.exc_text = None
        return super().format(record)


class ConsoleHandler(logging.Handler):
    """Prints records on the current ``sys.stdout`` while the program has not configured logging."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(ConsoleFormatter())

    def filter(self, record: logging.LogRecord) -> bool:
        # A root handler (the program's own logging set-up, or pytest's) gets the record through
        # propagation; printing it here as well would show it twice.
        return not logging.getLogger().handlers and super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            stream: TextIO = sys.stdout
            status = _status
            if status is not None:
                stream.write(_CLEAR_LINE)
            stream.write(text + "\n")
            if status is not None:
                stream.write(status())
            stream.flush()
        except Exception:
            self.handleError(record)


def setup_console() -> None:
    """Install the console handler, the log level and the short display of uncaught SDK errors.

    Safe to call any number of times; only the first call changes anything.
    """
    global _done
    with _lock:
        if _done:
            return
        _done = True
    logger = logging.getLogger(LOGGER_NAME)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.DEBUG if envs.DEBUG else logging.INFO)
    if not any(isinstance(handler, ConsoleHandler) for handler in logger.handlers):
        logger.addHandler(ConsoleHandler())
    _short_uncaught_errors()


@contextlib.contextmanager
def status_line(render: Callable[[], str]) -> Iterator[None]:
    """Register the live status line (one at a time) while the block runs.

    Args:
        render: Returns the line as it should be drawn now (without a newline).
    """
    global _status
    previous = _status
    _status = render
    try:
        yield
    finally:
        _status = previous


def _short_uncaught_errors() -> None:
    """Show uncaught `KaptainException`s as one line unless ``KAPTAIN_SDK_DEBUG`` is on."""
    shell = _ipython_shell()
    if shell is not None:
        # Only when the user installed no handler of their own: set_custom_exc replaces it.
        if not getattr(shell, "custom_exceptions", ()):
            shell.set_custom_exc((KaptainException,), _ipython_handler)
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KaptainException) and not envs.DEBUG:
            sys.stderr.write("".join(traceback.format_exception_only(kind, value)))
            sys.stderr.write("(set KAPTAIN_SDK_DEBUG=true to see the traceback)\n")
            return
        previous(kind, value, tb)

    sys.excepthook = hook


def _ipython_handler(
    shell: Any,
    kind: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    tb_offset: Any = None,
) -> None:
    shell.showtraceback((kind, value, tb), tb_offset=tb_offset, exception_only=not envs.DEBUG)


def _ipython_shell() -> Any:
    """The running IPython shell, if this is IPython; never imports IPython."""
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None)
    return get() if callable(get) else None
