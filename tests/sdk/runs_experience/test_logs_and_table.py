"""Choosing the pod whose log is followed, reading Kubernetes log timestamps, and `kaptain runs` output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kaptain.runs.logs import JOB_ROLE_LABEL, LogTarget, _split_timestamp, master_pod
from kaptain.runs.reattach import RunInfo, RunOutcome
from kaptain.worker.runs_cli import format_outcome, format_table
from kaptain.workflows.specs import BuildResult, TrainResult


def _pod(name: str, created: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": created, "labels": labels, "uid": name}}


def test_the_master_of_a_training_job_and_the_newest_pod_of_a_job() -> None:
    pods = [
        _pod("mnist-pytorchjob-1-worker-0", "2026-01-01T00:00:01Z", **{JOB_ROLE_LABEL: ""}),
        _pod("mnist-pytorchjob-1-master-0", "2026-01-01T00:00:00Z", **{JOB_ROLE_LABEL: "master"}),
    ]
    assert master_pod(pods, "PyTorchJob")["metadata"]["name"] == "mnist-pytorchjob-1-master-0"  # type: ignore[index]
    assert master_pod(pods[:1], "TFJob") is None
    retried = [_pod("job-abcde", "2026-01-01T00:00:00Z"), _pod("job-fghij", "2026-01-01T00:00:09Z")]
    assert master_pod(retried, "Job")["metadata"]["name"] == "job-fghij"  # type: ignore[index]
    assert master_pod([], "Job") is None


def test_targets_select_exactly_one_runs_pods() -> None:
    target = LogTarget(action="build", revision="c" * 32, job_kind="Job")
    assert target.selector == (
        "app.kubernetes.io/managed-by=kaptain,kaptain.io/revision=" + "c" * 32 + ",kaptain.io/action=build"
    )
    assert target.what == "Image Build"
    assert LogTarget(action="train", revision="c" * 32, job_kind="TFJob").what == "Master Node Training Model"


def test_log_lines_carry_their_kubernetes_timestamp() -> None:
    stamp, text = _split_timestamp(b"2026-01-02T03:04:05.123456789Z epoch 1: loss=0.5")
    assert stamp == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC) and text == "epoch 1: loss=0.5"
    assert _split_timestamp(b"no timestamp here") == (None, "no timestamp here")
    assert _split_timestamp(b"2026 is not a time") == (None, "2026 is not a time")
    assert _split_timestamp(b"2026-01-02T03:04:05Z \xff") == (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "\ufffd",
    )


def test_the_runs_table() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    rows = [
        RunInfo(
            "kaptain/dev/mnist/train/" + "a" * 32,
            "dev/mnist",
            "train",
            "a" * 32,
            "Running",
            now - timedelta(seconds=75),
        ),
        RunInfo(
            "kaptain/dev/mnist/build/" + "b" * 32,
            "dev/mnist",
            "build",
            "b" * 32,
            "Completed",
            now - timedelta(seconds=90),
            closed=now - timedelta(seconds=80),
            parent_run_id="kaptain/dev/mnist/train/" + "a" * 32,
            outcome="Skipped",
        ),
        RunInfo(
            "kaptain/dev/mnist/train/" + "c" * 32,
            "dev/mnist",
            "train",
            "c" * 32,
            "Cancelled",
            now - timedelta(seconds=30),
            closed=now - timedelta(seconds=20),
        ),
    ]
    header, first, second, third = format_table(rows, now=now).splitlines()
    assert header.split() == ["RUN", "ID", "ACTION", "REVISION", "STATUS", "STARTED", "DURATION"]
    assert first.split()[:4] == [rows[0].run_id, "train", "a" * 32, "Running"] and first.endswith("1m15s")
    # A completed run shows its own verdict; others Temporal's status.
    assert second.split()[3] == "Skipped" and second.endswith("10s")
    assert third.split()[3] == "Cancelled"
    # Columns line up.
    assert first.index(" train ") == second.index(" build ") == header.index(" ACTION ")
    assert format_table([]) == "No runs.\n"


def test_awaited_results_in_words() -> None:
    trained = TrainResult(
        status="Succeeded",
        model_uri="file:///m/trained/x",
        hyperparameters={"--epochs": "2"},
        metrics={"accuracy": 0.9},
        image="i",
        build_skipped=True,
        job_kind="PyTorchJob",
        job_name="mnist-pytorchjob-aaaaaaaa",
    )
    assert format_outcome(RunOutcome("r", "train", "a" * 32, succeeded=True, result=trained)) == (
        "r: succeeded (Succeeded, PyTorchJob mnist-pytorchjob-aaaaaaaa)\n"
        "  model: file:///m/trained/x\n"
        "  metrics: accuracy=0.9\n"
    )
    failed = trained.model_copy(update={"status": "Failed", "reason": "exited with 1\nlast lines"})
    assert format_outcome(
        RunOutcome("r", "train", "a" * 32, succeeded=False, reason=failed.reason, result=failed)
    ) == (
        "r: did not succeed (Failed, PyTorchJob mnist-pytorchjob-aaaaaaaa)\n  reason: exited with 1\n    last lines\n"
    )
    built = BuildResult(image="reg/kaptain/mnist:1", checksum="c" * 32, skipped=True)
    assert format_outcome(RunOutcome("b", "build", "b" * 32, succeeded=True, result=built)) == (
        "b: succeeded\n  image: reg/kaptain/mnist:1 (already published, build skipped)\n"
    )
