"""The run-policy arithmetic of training jobs (operator v1.9 `core/job.go`, `core/status.go`).

Pure functions on the job's specs, status and pods: the backoff-limit and deadline checks, the
TTL countdown, and the `replicaStatuses` counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.controllers import pods as podutil
from kaptain.cluster.controllers import training_replicas as tr
from kaptain.cluster.controllers.objects import is_deleting, parse_time, seconds_since

RESTARTING_POLICIES = ("OnFailure", "Always", "ExitCode")


def limit_exceeded(
    name: str,
    specs: dict[str, dict[str, Any]],
    run_policy: dict[str, Any],
    status: dict[str, Any],
    pods: list[Object],
) -> str | None:
    """The failure message when `backoffLimit` or `activeDeadlineSeconds` is exceeded.

    Args:
        name: The job's name.
        specs: Defaulted replica specs.
        run_policy: `spec.runPolicy`.
        status: The job status (its `replicaStatuses` are the previous counts).
        pods: The job's pods.

    Returns:
        The message, or None when neither limit is exceeded.
    """
    limit = run_policy.get("backoffLimit")
    if limit is not None:
        limit = int(limit)
        active = sum(1 for p in pods if podutil.is_active(p))
        failed = sum(1 for p in pods if podutil.phase(p) == podutil.FAILED)
        total = sum(int(s["replicas"]) for s in specs.values())
        previous = sum(int(c.get("failed") or 0) for c in (status.get("replicaStatuses") or {}).values())
        # Upstream's work queue never counts requeues here, so this only fires for backoffLimit 0.
        new_failure = failed > previous and active != total and limit < 1
        if new_failure or past_backoff_limit(specs, pods, limit):
            return f"Job {name} has failed because it has reached the specified backoff limit"
    deadline = run_policy.get("activeDeadlineSeconds")
    elapsed = seconds_since(status.get("startTime"))
    if deadline is not None and elapsed is not None and elapsed >= int(deadline):
        return f"Job {name} has failed because it was active longer than specified deadline"
    return None


def past_backoff_limit(specs: dict[str, dict[str, Any]], pods: list[Object], limit: int) -> bool:
    """`PastBackoffLimit`: restarts of Running pods of restarting replicas reach `limit`.

    Restarts are the containers' `restartCount` plus the pod recreations recorded on the pod.

    Args:
        specs: Defaulted replica specs.
        pods: The job's pods.
        limit: `backoffLimit`.

    Returns:
        Whether the limit is reached (any restart when it is 0).
    """
    restarts = 0
    for rtype, spec in specs.items():
        if spec["restartPolicy"] not in RESTARTING_POLICIES:
            continue
        for pod in pods:
            if tr.replica_type_of(pod) == rtype.lower() and podutil.phase(pod) == podutil.RUNNING:
                restarts += podutil.restart_count(pod) + tr.restarts_of(pod)
    return restarts > 0 if limit == 0 else restarts >= limit


def ttl_remaining(run_policy: dict[str, Any], status: dict[str, Any]) -> float | None:
    """Seconds until a finished job is deleted (<= 0: now), None without TTL, completion or while suspended."""
    ttl = run_policy.get("ttlSecondsAfterFinished")
    finished = parse_time(status.get("completionTime"))
    if ttl is None or finished is None or run_policy.get("suspend"):
        return None
    return (finished - dt.datetime.now(dt.UTC)).total_seconds() + int(ttl)


def count_pod(counts: dict[str, Any], pod: Object) -> None:
    """`UpdateJobReplicaStatuses`: adds a pod to its replica type's counts.

    Running counts as active (as failed when it is being deleted), Succeeded as succeeded, Failed
    as failed; Pending counts nowhere.

    Args:
        counts: The replica type's `replicaStatuses` entry, changed in place.
        pod: The pod.
    """
    phase = podutil.phase(pod)
    if phase == podutil.RUNNING:
        add_count(counts, "failed" if is_deleting(pod) else "active", 1)
    elif phase == podutil.SUCCEEDED:
        add_count(counts, "succeeded", 1)
    elif phase == podutil.FAILED:
        add_count(counts, "failed", 1)


def add_count(counts: dict[str, Any], field: str, amount: int) -> None:
    """Adds to a count, leaving zero counts out as the operator's JSON (`omitempty`) does."""
    total = int(counts.get(field) or 0) + amount
    if total:
        counts[field] = total
    else:
        counts.pop(field, None)
