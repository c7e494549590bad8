"""The live progress display of a run: phase, job, pods ready/running/finished, elapsed time.

Where it shows (`choose_display`):

* in a Jupyter notebook (an IPython kernel): an HTML line under the cell, updated in place
  (``IPython.display.display(..., display_id=True)`` and ``update``);
* in a terminal (standard output is a TTY): one line redrawn in place with a carriage return and
  an ANSI erase, ended with a newline when the run ends; log lines printed meanwhile (through
  `kaptain.runs.console`) appear above it;
* elsewhere (CI logs, files, pipes): nothing unless the call is verbose, then a plain
  ``kaptain-log`` line each time the phase, the job or a pod count changes.

``KAPTAIN_SDK_PROGRESS`` overrides this: false (``false``, ``no``, ``n``, ``0``, ``off``) shows
nothing anywhere; true (``true``, ``yes``, ``y``, ``1``, ``on``) shows the plain lines even when not
verbose. IPython is imported only when a notebook is detected (through ``sys.modules``), so the
SDK never needs it.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TextIO

from kaptain.platform.constants import LOGGER_NAME
from kaptain.runs.console import status_line
from kaptain.workflows.specs import RunProgress

__all__ = [
    "PROGRESS_ENV",
    "Display",
    "LogDisplay",
    "NotebookDisplay",
    "ProgressSnapshot",
    "TerminalDisplay",
    "choose_display",
    "format_elapsed",
    "in_notebook",
    "render_html",
    "render_text",
]

PROGRESS_ENV: Final = "KAPTAIN_SDK_PROGRESS"
"""Overrides where the progress display shows (see the module's documentation)."""

_TRUE: Final = frozenset({"true", "yes", "y", "1", "on"})
_FALSE: Final = frozenset({"false", "no", "n", "0", "off"})
_CLEAR_LINE: Final = "\r\x1b[2K"
# Shown after queries went unanswered this long: the run's worker is probably down.
_UNANSWERED_NOTICE_SECONDS: Final = 5.0
_PHASE_COLOURS: Final = {
    "Succeeded": "#1a7f37",
    "Done": "#1a7f37",
    "Failed": "#cf222e",
    "Restarting": "#9a6700",
    "CleaningUp": "#6e7781",
}

_log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class ProgressSnapshot:
    """What is known of a run at one moment.

    Attributes:
        run_id: The run (workflow) id.
        action: ``build``, ``train``, ...
        model_id: The model's id.
        progress: The run's answer to the ``progress`` query, or None before the first answer.
        build: The image build's progress while a training run builds its image, else None.
        unanswered_seconds: For how long progress queries have gone unanswered (0 when the last
            one was answered).
        now: When this was taken (UTC); elapsed times count to it.
    """

    run_id: str
    action: str
    model_id: str
    progress: RunProgress | None = None
    build: RunProgress | None = None
    unanswered_seconds: float = 0.0
    now: datetime | None = None

    @property
    def phase(self) -> str:
        """The run's phase (``Waiting`` before the first answer)."""
        return self.progress.phase if self.progress is not None else "Waiting"

    @property
    def current(self) -> RunProgress | None:
        """The progress of what runs now: the image build while a training run builds, else the run."""
        if self.build is not None and self.phase == "Building":
            return self.build
        return self.progress

    @property
    def elapsed_seconds(self) -> float:
        """Seconds since the run started (0 before the first answer); for a finished run, how long it took."""
        if self.progress is None:
            return 0.0
        if self.progress.phase == "Done":
            # The workflow's clock stopped at its last step, which is when it finished; a run
            # re-attached long after would otherwise show the time since it started.
            return self.progress.elapsed_seconds
        now = self.now or datetime.now(UTC)
        return max(0.0, (now - self.progress.started_at).total_seconds())

    def key(self) -> tuple[object, ...]:
        """What a change worth a new plain line is made of (everything but the time)."""
        current = self.current
        counts = (
            None
            if current is None
            else (
                current.job_name,
                current.pods_ready,
                current.pods_running,
                current.pods_succeeded,
                current.pods_failed,
                current.unschedulable,
            )
        )
        return (self.phase, self.build.phase if self.build else None, counts, self.worker_silent)

    @property
    def worker_silent(self) -> bool:
        """Whether queries have gone unanswered long enough to say so (the worker is probably down)."""
        return self.unanswered_seconds >= _UNANSWERED_NOTICE_SECONDS


def format_elapsed(seconds: float) -> str:
    """``12s``, ``3m04s``, ``1h02m05s``."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _parts(snapshot: ProgressSnapshot) -> list[str]:
    parts = [f"{snapshot.action} {snapshot.model_id}: {snapshot.phase}"]
    current = snapshot.current
    if current is not None and current.job_name:
        parts.append(f"{current.job_kind or 'job'} {current.job_name}")
        finished = current.pods_succeeded + current.pods_failed
        failed = f" ({current.pods_failed} failed)" if current.pods_failed else ""
        parts.append(
            f"pods {current.pods_ready} ready, {current.pods_running} running, {finished} finished{failed}"
        )
    if current is not None and current.unschedulable:
        parts.append(f"unschedulable: {current.unschedulable}")
    parts.append(format_elapsed(snapshot.elapsed_seconds))
    if snapshot.worker_silent:
        parts.append(f"no worker answering for {format_elapsed(snapshot.unanswered_seconds)}")
    return parts


def render_text(snapshot: ProgressSnapshot) -> str:
    """One line of plain text, e.g.
    ``train dev/mnist: Running | PyTorchJob mnist-pytorchjob-1a2b3c4d | pods 2 ready, 2 running, 0 finished | 12s``.
    """
    return " | ".join(_parts(snapshot))


def render_html(snapshot: ProgressSnapshot) -> str:
    """The same as `render_text`, as an HTML fragment for a notebook (every value escaped)."""
    colour = _PHASE_COLOURS.get(snapshot.phase, "#0969da")
    head = (
        f"<b>{html.escape(snapshot.action)}</b> <code>{html.escape(snapshot.model_id)}</code> "
        f'<span style="color:white;background:{colour};border-radius:3px;padding:0 4px">'
        f"{html.escape(snapshot.phase)}</span>"
    )
    cells = [head] + [html.escape(part) for part in _parts(snapshot)[1:]]
    title = html.escape(snapshot.run_id, quote=True)
    return (
        f'<div class="kaptain-progress" title="{title}" style="font-family:monospace">'
        + " &middot; ".join(cells)
        + "</div>"
    )


class Display(Protocol):
    """Somewhere progress is shown."""

    def show(self, snapshot: ProgressSnapshot) -> None:
        """Show the run as it is now."""

    def close(self, snapshot: ProgressSnapshot | None) -> None:
        """Show the last state (if given) and stop; nothing is shown afterwards."""


class TerminalDisplay:
    """One line on a terminal, redrawn in place.

    Args:
        stream: The terminal (default: the current ``sys.stdout``).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._line = ""
        self._registration = contextlib.ExitStack()
        self._registration.enter_context(status_line(lambda: self._line))

    def show(self, snapshot: ProgressSnapshot) -> None:
        """Redraw the line."""
        width = shutil.get_terminal_size((100, 24)).columns
        text = render_text(snapshot)
        # A line wider than the terminal wraps, and a carriage return then redraws only its end.
        self._line = text if len(text) < width else text[: max(1, width - 2)] + "…"
        self._stream.write(_CLEAR_LINE + self._line)
        self._stream.flush()

    def close(self, snapshot: ProgressSnapshot | None) -> None:
        """Draw the last state in full and end the line."""
        self._registration.close()
        if snapshot is not None:
            self._stream.write(_CLEAR_LINE + render_text(snapshot) + "\n")
        elif self._line:
            self._stream.write("\n")
        self._line = ""
        self._stream.flush()


class LogDisplay:
    """A ``kaptain-log`` line whenever the phase, the job or a pod count changes."""

    def __init__(self) -> None:
        self._last: tuple[object, ...] | None = None

    def show(self, snapshot: ProgressSnapshot) -> None:
        """Log the run's state if it changed."""
        key = snapshot.key()
        if key != self._last:
            self._last = key
            _log.info("%s", render_text(snapshot))

    def close(self, snapshot: ProgressSnapshot | None) -> None:
        """Log the last state if it changed."""
        if snapshot is not None:
            self.show(snapshot)


class _Rendered:
    """A snapshot as IPython's rich display shows it: HTML, with plain text for consoles."""

    def __init__(self, snapshot: ProgressSnapshot) -> None:
        self._snapshot = snapshot

    def _repr_html_(self) -> str:
        return render_html(self._snapshot)

    def __repr__(self) -> str:
        return render_text(self._snapshot)


class NotebookDisplay:
    """An output under the notebook cell, updated in place (needs IPython, which a notebook has)."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, snapshot: ProgressSnapshot) -> None:
        """Show or update the output."""
        if self._handle is None:
            # Imported by name: only ever reached inside IPython, which the SDK does not depend on.
            display = importlib.import_module("IPython.display").display
            self._handle = display(_Rendered(snapshot), display_id=True)
        else:
            self._handle.update(_Rendered(snapshot))

    def close(self, snapshot: ProgressSnapshot | None) -> None:
        """Leave the last state shown."""
        if snapshot is not None:
            self.show(snapshot)
        self._handle = None


def in_notebook() -> bool:
    """Whether this runs in an IPython kernel (Jupyter, VS Code, Colab), without importing IPython."""
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def choose_display(*, verbose: bool) -> Display | None:
    """The display for a call (see the module's documentation for the rules).

    Args:
        verbose: Whether the call is verbose.

    Returns:
        The display, or None to show nothing.
    """
    setting = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if setting in _FALSE:
        return None
    if in_notebook():
        return NotebookDisplay()
    if _is_tty(sys.stdout):
        return TerminalDisplay()
    if verbose or setting in _TRUE:
        return LogDisplay()
    return None


def _is_tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False
