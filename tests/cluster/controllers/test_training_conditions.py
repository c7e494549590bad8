"""Condition rules of the Training Operator (`setCondition`/`filterOutCondition`)."""

from __future__ import annotations

import datetime as dt

from kaptain.cluster.controllers import training_conditions as tc

T0 = dt.datetime(2026, 1, 1, 10, 0, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=1)
T2 = T0 + dt.timedelta(minutes=2)


def _types(status: dict[str, object]) -> list[tuple[str, str]]:
    return [(c["type"], c["status"]) for c in status["conditions"]]  # type: ignore[attr-defined]


def test_reason_is_kind_prefixed() -> None:
    assert tc.reason("PyTorchJob", tc.REASON_CREATED) == "PyTorchJobCreated"
    assert tc.reason("TFJob", tc.REASON_RUNNING) == "TFJobRunning"


def test_running_and_restarting_exclude_each_other() -> None:
    status: dict[str, object] = {}
    tc.update_condition(status, tc.CREATED, "True", "TFJobCreated", "created", when=T0)
    tc.update_condition(status, tc.RUNNING, "True", "TFJobRunning", "running", when=T0)
    tc.update_condition(status, tc.RESTARTING, "True", "TFJobRestarting", "restarting", when=T1)
    assert _types(status) == [("Created", "True"), ("Restarting", "True")]
    tc.update_condition(status, tc.RUNNING, "True", "TFJobRunning", "running", when=T2)
    assert _types(status) == [("Created", "True"), ("Running", "True")]


def test_success_flips_running_to_false_and_keeps_it() -> None:
    status: dict[str, object] = {}
    tc.update_condition(status, tc.CREATED, "True", "TFJobCreated", "created", when=T0)
    tc.update_condition(status, tc.RUNNING, "True", "TFJobRunning", "running", when=T0)
    tc.update_condition(status, tc.SUCCEEDED, "True", "TFJobSucceeded", "done", when=T1)
    assert _types(status) == [("Created", "True"), ("Running", "False"), ("Succeeded", "True")]
    assert tc.is_succeeded(status) and tc.is_finished(status) and not tc.is_failed(status)


def test_failed_is_absorbing() -> None:
    status: dict[str, object] = {}
    tc.update_condition(status, tc.RUNNING, "True", "TFJobRunning", "running", when=T0)
    tc.update_condition(status, tc.FAILED, "True", "TFJobFailed", "failed", when=T1)
    before = _types(status)
    tc.update_condition(status, tc.SUCCEEDED, "True", "TFJobSucceeded", "done", when=T2)
    tc.update_condition(status, tc.RUNNING, "True", "TFJobRunning", "again", when=T2)
    assert _types(status) == before == [("Running", "False"), ("Failed", "True")]


def test_readded_type_moves_to_the_end_and_keeps_transition_time_when_status_unchanged() -> None:
    status: dict[str, object] = {}
    tc.update_condition(status, tc.SUSPENDED, "True", "PyTorchJobSuspended", "suspended", when=T0)
    tc.update_condition(status, tc.CREATED, "True", "PyTorchJobCreated", "created", when=T1)
    tc.update_condition(status, tc.SUSPENDED, "True", "PyTorchJobSomethingElse", "again", when=T2)
    last = status["conditions"][-1]  # type: ignore[index]
    assert last["type"] == "Suspended"
    assert last["lastTransitionTime"] == "2026-01-01T10:00:00Z"
    assert last["lastUpdateTime"] == "2026-01-01T10:02:00Z"
    tc.update_condition(status, tc.SUSPENDED, "False", "PyTorchJobResumed", "resumed", when=T2)
    assert status["conditions"][-1]["lastTransitionTime"] == "2026-01-01T10:02:00Z"  # type: ignore[index]


def test_same_status_and_reason_changes_nothing() -> None:
    status: dict[str, object] = {}
    tc.update_condition(status, tc.CREATED, "True", "TFJobCreated", "created", when=T0)
    tc.update_condition(status, tc.RUNNING, "True", "TFJobRunning", "running", when=T0)
    snapshot = [dict(c) for c in status["conditions"]]  # type: ignore[attr-defined]
    tc.update_condition(status, tc.CREATED, "True", "TFJobCreated", "other message", when=T2)
    assert status["conditions"] == snapshot
