"""The progress display: what it renders for each phase, and where it shows."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest

from kaptain.runs import progress as display
from kaptain.runs.progress import (
    LogDisplay,
    ProgressSnapshot,
    TerminalDisplay,
    choose_display,
    format_elapsed,
    render_html,
    render_text,
)
from kaptain.workflows.specs import RunProgress

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _snapshot(phase: str | None, seconds: float = 12, **fields: object) -> ProgressSnapshot:
    build = fields.pop("build", None)
    unanswered = float(fields.pop("unanswered", 0.0))  # type: ignore[arg-type]
    progress = None if phase is None else RunProgress(phase=phase, started_at=STARTED, **fields)  # type: ignore[arg-type]
    return ProgressSnapshot(
        run_id="kaptain/dev/mnist/train/" + "a" * 32,
        action="train",
        model_id="dev/mnist",
        progress=progress,
        build=build,  # type: ignore[arg-type]
        unanswered_seconds=unanswered,
        now=STARTED + timedelta(seconds=seconds),
    )


JOB = {"job_kind": "PyTorchJob", "job_name": "mnist-pytorchjob-aaaaaaaa"}


def test_elapsed_times_read_like_a_clock() -> None:
    assert [format_elapsed(s) for s in (0, 9.9, 60, 184, 3600, 3725)] == [
        "0s",
        "9s",
        "1m00s",
        "3m04s",
        "1h00m00s",
        "1h02m05s",
    ]


def test_each_phase_renders_as_one_line() -> None:
    assert render_text(_snapshot(None)) == "train dev/mnist: Waiting | 0s"
    assert render_text(_snapshot("Starting", 1)) == "train dev/mnist: Starting | 1s"
    running = _snapshot("Running", 75, pods_ready=2, pods_running=2, **JOB)
    assert render_text(running) == (
        "train dev/mnist: Running | PyTorchJob mnist-pytorchjob-aaaaaaaa | pods 2 ready, 2 running, 0 finished | 1m15s"
    )
    failing = _snapshot("Restarting", 80, pods_ready=1, pods_running=1, pods_failed=1, **JOB)
    assert "pods 1 ready, 1 running, 1 finished (1 failed)" in render_text(failing)
    # A finished run shows how long it took (the workflow's own clock), however late it is looked at.
    done = _snapshot("Done", 5000, pods_succeeded=2, elapsed_seconds=90, **JOB)
    assert render_text(done).endswith("pods 0 ready, 0 running, 2 finished | 1m30s")


def test_a_training_run_shows_its_image_build_while_building() -> None:
    build = RunProgress(
        phase="Running",
        job_kind="Job",
        job_name="kaniko-0123456789abcdef",
        pods_ready=1,
        pods_running=1,
        started_at=STARTED,
    )
    snapshot = _snapshot("Building", 3, build=build, **JOB)
    assert render_text(snapshot) == (
        "train dev/mnist: Building | Job kaniko-0123456789abcdef | pods 1 ready, 1 running, 0 finished | 3s"
    )
    # Once past the build, the training job is shown again.
    assert "PyTorchJob" in render_text(_snapshot("Submitting", 4, build=build, **JOB))


def test_a_pod_the_cluster_cannot_place_is_said_at_once() -> None:
    pending = _snapshot(
        "Created",
        20,
        unschedulable="mnist-pytorchjob-aaaaaaaa-worker-0: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
        **JOB,
    )
    assert render_text(pending) == (
        "train dev/mnist: Created | PyTorchJob mnist-pytorchjob-aaaaaaaa | pods 0 ready, 0 running, 0 finished"
        " | unschedulable: mnist-pytorchjob-aaaaaaaa-worker-0: 0/1 nodes are available: 1 Insufficient"
        " nvidia.com/gpu. | 20s"
    )
    # It is a change worth a new plain line.
    assert pending.key() != _snapshot("Created", 20, **JOB).key()


def test_a_silent_worker_is_mentioned_after_a_few_seconds() -> None:
    assert "no worker" not in render_text(_snapshot("Running", unanswered=2, **JOB))
    assert render_text(_snapshot("Running", unanswered=42, **JOB)).endswith("| no worker answering for 42s")


def test_html_escapes_everything_and_colours_the_phase() -> None:
    snapshot = ProgressSnapshot(
        run_id="kaptain/<x>/train/1",
        action="train",
        model_id="a<b>&c",
        progress=RunProgress(phase="Failed", started_at=STARTED),
        now=STARTED,
    )
    html = render_html(snapshot)
    assert "<b>train</b>" in html and "a&lt;b&gt;&amp;c" in html and "a<b>" not in html
    assert 'title="kaptain/&lt;x&gt;/train/1"' in html and "#cf222e" in html and ">Failed</span>" in html


def test_the_terminal_line_is_redrawn_in_place_and_ended_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()
    terminal = TerminalDisplay(out)
    terminal.show(_snapshot("Starting", 0))
    terminal.show(_snapshot("Running", 5, pods_ready=2, pods_running=2, **JOB))
    terminal.close(_snapshot("Done", 60, pods_succeeded=2, elapsed_seconds=6, **JOB))
    frames = out.getvalue().split("\r\x1b[2K")
    assert frames[0] == "" and frames[1] == "train dev/mnist: Starting | 0s"
    assert frames[2].startswith("train dev/mnist: Running") and "\n" not in frames[2]
    assert frames[3].startswith("train dev/mnist: Done") and frames[3].endswith("6s\n")


def test_a_narrow_terminal_gets_a_shortened_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()
    terminal = TerminalDisplay(out)
    terminal.show(_snapshot("Running", 5, pods_ready=2, pods_running=2, **JOB))
    terminal.close(None)
    line = out.getvalue().split("\r\x1b[2K")[1]
    assert line == "train dev/mnist: Running | PyTorchJob …\n"


def test_plain_lines_only_when_something_changes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kaptain-log")
    lines = LogDisplay()
    for seconds in (1, 2, 3):
        lines.show(_snapshot("Running", seconds, pods_ready=1, pods_running=1, **JOB))
    lines.show(_snapshot("Running", 4, pods_ready=2, pods_running=2, **JOB))
    lines.close(_snapshot("Running", 5, pods_ready=2, pods_running=2, **JOB))
    lines.close(_snapshot("Done", 6, pods_succeeded=2, elapsed_seconds=6, **JOB))
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(" | ")[2] for m in messages] == [
        "pods 1 ready, 1 running, 0 finished",
        "pods 2 ready, 2 running, 0 finished",
        "pods 0 ready, 0 running, 2 finished",
    ]


def test_where_the_display_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(display.PROGRESS_ENV, raising=False)
    # pytest's captured output is no terminal and this is no notebook.
    assert not display.in_notebook()
    assert choose_display(verbose=False) is None
    assert isinstance(choose_display(verbose=True), LogDisplay)
    monkeypatch.setenv(display.PROGRESS_ENV, "yes")
    assert isinstance(choose_display(verbose=False), LogDisplay)
    monkeypatch.setenv(display.PROGRESS_ENV, "off")
    assert choose_display(verbose=True) is None
