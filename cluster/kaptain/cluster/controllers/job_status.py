"""Status rules of the batch/v1 Job controller (Kubernetes >= 1.31).

Conditions: a failing Job first gets `FailureTarget` and, once none of its pods is terminating,
`Failed` with the same reason and message; a succeeding Job gets `SuccessCriteriaMet` and then
`Complete` (reason `CompletionsReached`). Reasons are kube's: `BackoffLimitExceeded`,
`DeadlineExceeded`; suspension uses `Suspended` with `JobSuspended`/`JobResumed`.

Pod failure backoff: after failures the next pod is created only after 10 s x 2^(n-1) (capped at
6 min), n being the failures since the last success, counted from when the last failure happened.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.controllers import pods as podutil
from kaptain.cluster.controllers.objects import format_time, parse_time

COMPLETE = "Complete"
FAILED = "Failed"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
SUSPENDED = "Suspended"

REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
MESSAGE_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MESSAGE_DEADLINE = "Job was active longer than specified deadline"
REASON_COMPLETIONS = "CompletionsReached"
MESSAGE_COMPLETIONS = "Reached expected number of succeeded pods"

DEFAULT_BACKOFF_LIMIT = 6
DEFAULT_POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 360.0


def find_condition(status: Object, kind: str) -> dict[str, Any] | None:
    """The condition of type `kind` in `status.conditions`, or None."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            result: dict[str, Any] = cond
            return result
    return None


def condition_true(status: Object, kind: str) -> bool:
    """Whether a condition of type `kind` is present with status "True"."""
    cond = find_condition(status, kind)
    return cond is not None and cond.get("status") == "True"


def is_finished(status: Object) -> bool:
    """Whether the Job has a true Complete or Failed condition."""
    return condition_true(status, COMPLETE) or condition_true(status, FAILED)


def finished_at(status: Object) -> dt.datetime | None:
    """When the Job finished: the transition time of its terminal condition (as the TTL controller)."""
    for kind in (COMPLETE, FAILED):
        cond = find_condition(status, kind)
        if cond is not None and cond.get("status") == "True":
            return parse_time(cond.get("lastTransitionTime"))
    return None


def new_condition(kind: str, status: str, reason: str, message: str, when: dt.datetime) -> dict[str, Any]:
    """A JobCondition with both probe and transition time set to `when`."""
    stamp = format_time(when)
    return {
        "type": kind,
        "status": status,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def ensure_condition(
    status: Object, kind: str, value: str, reason: str, message: str, *, when: dt.datetime
) -> bool:
    """kube's `ensureJobConditionStatus`: sets or replaces a condition; a False one is never added.

    Args:
        status: The Job status to change in place.
        kind: Condition type.
        value: "True" or "False".
        reason: Reason.
        message: Message.
        when: Now.

    Returns:
        Whether the conditions changed.
    """
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    for i, cond in enumerate(conditions):
        if cond.get("type") == kind:
            if (cond.get("status"), cond.get("reason"), cond.get("message")) != (value, reason, message):
                conditions[i] = new_condition(kind, value, reason, message, when)
                return True
            return False
    if value == "False":
        if not conditions:
            status.pop("conditions", None)
        return False
    conditions.append(new_condition(kind, value, reason, message, when))
    return True


def past_backoff_limit_on_failure(spec: Object, pods: list[Object], backoff_limit: int) -> bool:
    """kube's `pastBackoffLimitOnFailure`: container restarts of Running/Pending pods reach the limit.

    Args:
        spec: The Job spec.
        pods: The Job's pods.
        backoff_limit: The effective backoff limit.

    Returns:
        Whether the restarts count as exceeding it (only for `restartPolicy: OnFailure`).
    """
    template_spec = (spec.get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(
        podutil.restart_count(p) for p in pods if podutil.phase(p) in (podutil.RUNNING, podutil.PENDING)
    )
    if backoff_limit == 0:
        return restarts > 0
    return restarts >= backoff_limit


def failure_backoff_remaining(
    pods: list[Object],
    when: dt.datetime,
    *,
    base: float = DEFAULT_POD_FAILURE_BACKOFF,
    cap: float = MAX_POD_FAILURE_BACKOFF,
) -> float:
    """Seconds until a replacement pod may be created after failures (0 when it may be now).

    Args:
        pods: The Job's pods.
        when: Now.
        base: Delay after the first failure.
        cap: Maximum delay.

    Returns:
        The remaining delay in seconds.
    """
    last_success: dt.datetime | None = None
    failures: list[dt.datetime] = []
    for pod in pods:
        finished = podutil.finish_time(pod) or parse_time(
            (pod.get("metadata") or {}).get("creationTimestamp")
        )
        if finished is None:
            continue
        if podutil.phase(pod) == podutil.SUCCEEDED and (last_success is None or finished > last_success):
            last_success = finished
        elif podutil.phase(pod) == podutil.FAILED:
            failures.append(finished)
    recent = [f for f in failures if last_success is None or f > last_success]
    if not recent:
        return 0.0
    delay = min(cap, base * float(2 ** min(len(recent) - 1, 32)))
    return max(0.0, delay - (when - max(recent)).total_seconds())
