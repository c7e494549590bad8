"""Job conditions of the Kubeflow Training Operator (`pkg/util/status.go`, v1.9).

Rules kept exactly:
- once a True `Failed` condition exists, no condition changes any more (Failed is absorbing);
- setting a condition whose type exists with the same status and reason changes nothing;
- otherwise the old entry is removed and the new one appended at the end, keeping the old
  `lastTransitionTime` when the status did not change;
- `Running` and `Restarting` exclude each other;
- adding `Succeeded` or `Failed` flips an existing `Running` to "False" (it stays in the list).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.controllers.objects import format_time

CREATED = "Created"
RUNNING = "Running"
RESTARTING = "Restarting"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
SUSPENDED = "Suspended"

# Reason suffixes; the reason is the job kind followed by one of them (`TFJobRunning`).
REASON_CREATED = "Created"
REASON_RUNNING = "Running"
REASON_RESTARTING = "Restarting"
REASON_SUCCEEDED = "Succeeded"
REASON_FAILED = "Failed"
REASON_FAILED_VALIDATION = "FailedValidation"
REASON_SUSPENDED = "Suspended"
REASON_RESUMED = "Resumed"


def reason(kind: str, suffix: str) -> str:
    """`commonutil.NewReason`: the job kind followed by the reason (`PyTorchJobCreated`)."""
    return f"{kind}{suffix}"


def is_true(status: Object, kind: str) -> bool:
    """Whether a condition of type `kind` has status "True"."""
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def is_succeeded(status: Object) -> bool:
    """Whether the job has a True Succeeded condition."""
    return is_true(status, SUCCEEDED)


def is_failed(status: Object) -> bool:
    """Whether the job has a True Failed condition."""
    return is_true(status, FAILED)


def is_finished(status: Object) -> bool:
    """Whether the job Succeeded or Failed."""
    return is_succeeded(status) or is_failed(status)


def find(status: Object, kind: str) -> dict[str, Any] | None:
    """The condition of type `kind`, or None."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            result: dict[str, Any] = cond
            return result
    return None


def update_condition(
    status: Object, kind: str, value: str, why: str, message: str, *, when: dt.datetime
) -> None:
    """`UpdateJobConditions`: sets a condition following the operator's rules (module docstring).

    Args:
        status: The job status, changed in place.
        kind: Condition type.
        value: "True" or "False".
        why: The full reason (`TFJobRunning`).
        message: Message.
        when: Now.
    """
    if is_failed(status):
        return
    current = find(status, kind)
    if current is not None and current.get("status") == value and current.get("reason") == why:
        return
    stamp = format_time(when)
    condition = {
        "type": kind,
        "status": value,
        "reason": why,
        "message": message,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
    }
    if current is not None and current.get("status") == value:
        condition["lastTransitionTime"] = current.get("lastTransitionTime", stamp)
    status["conditions"] = [*_filter_out(status.get("conditions") or [], kind), condition]


def _filter_out(conditions: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for cond in conditions:
        other = cond.get("type")
        if (kind == RESTARTING and other == RUNNING) or (kind == RUNNING and other == RESTARTING):
            continue
        if other == kind:
            continue
        if kind in (FAILED, SUCCEEDED) and other == RUNNING:
            kept.append({**cond, "status": "False"})
            continue
        kept.append(cond)
    return kept
