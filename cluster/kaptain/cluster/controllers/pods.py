"""Questions controllers ask about pods: phase, activity, readiness, restarts, exit codes."""

from __future__ import annotations

import datetime as dt

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.controllers.objects import is_deleting, parse_time

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"


def phase(pod: Object) -> str:
    """The pod's `status.phase` (Pending when not reported yet)."""
    return str((pod.get("status") or {}).get("phase") or PENDING)


def is_terminal(pod: Object) -> bool:
    """Whether the pod reached Succeeded or Failed."""
    return phase(pod) in (SUCCEEDED, FAILED)


def is_active(pod: Object) -> bool:
    """Pending or Running and not being deleted (client-go's `FilterActivePods`)."""
    return not is_terminal(pod) and not is_deleting(pod)


def is_terminating(pod: Object) -> bool:
    """Being deleted but not yet terminal (`controller.CountTerminatingPods`)."""
    return is_deleting(pod) and not is_terminal(pod)


def is_ready(pod: Object) -> bool:
    """Whether the pod's Ready condition is True."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def restart_count(pod: Object) -> int:
    """Sum of the restartCount of all init and app containers."""
    status = pod.get("status") or {}
    total = 0
    for key in ("initContainerStatuses", "containerStatuses"):
        for each in status.get(key) or []:
            total += int(each.get("restartCount") or 0)
    return total


def exit_code(pod: Object, container: str | None = None) -> int | None:
    """The exit code of a terminated container.

    Args:
        pod: The pod.
        container: The container's name; None for the first terminated one.

    Returns:
        The exit code, or None when that container has not terminated.
    """
    for each in (pod.get("status") or {}).get("containerStatuses") or []:
        if container is not None and each.get("name") != container:
            continue
        terminated = (each.get("state") or {}).get("terminated")
        if terminated is not None:
            return int(terminated.get("exitCode") or 0)
    return None


def finish_time(pod: Object) -> dt.datetime | None:
    """When a terminal pod finished: the latest container `finishedAt`, else its Ready transition.

    Args:
        pod: The pod.

    Returns:
        The time, or None when the pod reports none.
    """
    status = pod.get("status") or {}
    latest: dt.datetime | None = None
    for each in status.get("containerStatuses") or []:
        terminated = (each.get("state") or {}).get("terminated") or {}
        when = parse_time(terminated.get("finishedAt"))
        if when is not None and (latest is None or when > latest):
            latest = when
    if latest is not None:
        return latest
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            return parse_time(cond.get("lastTransitionTime"))
    return None
