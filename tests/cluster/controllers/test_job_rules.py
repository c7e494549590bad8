"""Job controller rules computed without a cluster: indexes, conditions, backoffs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kaptain.cluster.controllers import job_status as js
from kaptain.cluster.controllers.job_pods import format_indexes, pending_indexes

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def _pod(phase: str, finished: dt.datetime | None = None, restarts: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {}}
    if finished is not None:
        state = {"terminated": {"exitCode": 0, "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    return {
        "metadata": {"creationTimestamp": "2026-01-01T11:00:00Z"},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "c", "restartCount": restarts, "state": state}],
        },
    }


def test_completed_indexes_are_sorted_and_collapsed() -> None:
    assert format_indexes([]) == ""
    assert format_indexes([5, 1, 3, 4, 7, 3]) == "1,3-5,7"
    assert format_indexes(range(4)) == "0-3"


def test_pending_indexes_skip_done_and_active_ones() -> None:
    assert pending_indexes(6, done={0, 2}, active={1}, count=2) == [3, 4]
    assert pending_indexes(3, done={0, 1, 2}, active=set(), count=5) == []


def test_ensure_condition_never_adds_a_false_condition_and_replaces_on_change() -> None:
    status: dict[str, Any] = {}
    assert not js.ensure_condition(status, js.SUSPENDED, "False", "JobResumed", "Job resumed", when=T0)
    assert "conditions" not in status
    assert js.ensure_condition(status, js.SUSPENDED, "True", "JobSuspended", "Job suspended", when=T0)
    assert not js.ensure_condition(status, js.SUSPENDED, "True", "JobSuspended", "Job suspended", when=T0)
    later = T0 + dt.timedelta(seconds=30)
    assert js.ensure_condition(status, js.SUSPENDED, "False", "JobResumed", "Job resumed", when=later)
    (cond,) = status["conditions"]
    assert cond == {
        "type": "Suspended",
        "status": "False",
        "lastProbeTime": "2026-01-01T12:00:30Z",
        "lastTransitionTime": "2026-01-01T12:00:30Z",
        "reason": "JobResumed",
        "message": "Job resumed",
    }


def test_finished_at_is_the_terminal_condition_transition() -> None:
    status: dict[str, Any] = {}
    js.ensure_condition(status, js.FAILURE_TARGET, "True", "DeadlineExceeded", "m", when=T0)
    assert not js.is_finished(status) and js.finished_at(status) is None
    js.ensure_condition(status, js.FAILED, "True", "DeadlineExceeded", "m", when=T0 + dt.timedelta(seconds=3))
    assert js.is_finished(status)
    assert js.finished_at(status) == T0 + dt.timedelta(seconds=3)


def test_on_failure_restarts_reach_the_backoff_limit() -> None:
    on_failure = {"template": {"spec": {"restartPolicy": "OnFailure"}}}
    never = {"template": {"spec": {"restartPolicy": "Never"}}}
    pods = [_pod("Running", restarts=1), _pod("Pending", restarts=1), _pod("Failed", T0, restarts=5)]
    assert js.past_backoff_limit_on_failure(on_failure, pods, 2)
    assert not js.past_backoff_limit_on_failure(on_failure, pods, 3)
    assert not js.past_backoff_limit_on_failure(never, pods, 1)
    assert js.past_backoff_limit_on_failure(on_failure, [_pod("Running", restarts=1)], 0)
    assert not js.past_backoff_limit_on_failure(on_failure, [_pod("Running")], 0)


def test_pod_failure_backoff_doubles_per_failure_since_the_last_success() -> None:
    one = [_pod("Failed", T0)]
    assert js.failure_backoff_remaining(one, T0, base=10, cap=360) == 10
    assert js.failure_backoff_remaining(one, T0 + dt.timedelta(seconds=4), base=10, cap=360) == 6
    three = [_pod("Failed", T0 - dt.timedelta(seconds=s)) for s in (0, 5, 9)]
    assert js.failure_backoff_remaining(three, T0, base=10, cap=360) == 40
    assert js.failure_backoff_remaining(three, T0, base=10, cap=25) == 25
    # A success after the failures resets the backoff.
    assert js.failure_backoff_remaining([*three, _pod("Succeeded", T0 + dt.timedelta(seconds=1))], T0) == 0
    assert js.failure_backoff_remaining([_pod("Running")], T0) == 0
