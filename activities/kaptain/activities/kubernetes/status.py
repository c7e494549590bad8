"""Status summaries: what matters about a workload's state, from its raw status.

Kubeflow training jobs report state only through ``status.conditions`` (types Created, Running,
Restarting, Succeeded, Failed; several may be present, so the summary checks for specific types
being True rather than reading the last one) and count pods in ``status.replicaStatuses``. A
batch/v1 Job reports ``Complete``/``Failed`` conditions (and, on newer clusters,
``SuccessCriteriaMet``/``FailureTarget`` first) and counts pods in ``active``/``ready``/
``succeeded``/``failed``.
"""

from __future__ import annotations

from typing import Any

from kaptain.workflows.objects import ObjectRef, ObjectStatus, Phase

__all__ = ["deleted", "summarize"]

Obj = dict[str, Any]

# Checked in this order: the first condition type that is True decides the phase.
_KUBEFLOW_PHASES: tuple[tuple[str, Phase], ...] = (
    ("Failed", "Failed"),
    ("Succeeded", "Succeeded"),
    ("Restarting", "Restarting"),
    ("Running", "Running"),
    ("Created", "Created"),
)
_JOB_PHASES: tuple[tuple[str, Phase], ...] = (
    ("Failed", "Failed"),
    ("FailureTarget", "Failed"),
    ("Complete", "Succeeded"),
    ("SuccessCriteriaMet", "Succeeded"),
)


def summarize(ref: ObjectRef, obj: Obj) -> ObjectStatus:
    """The summary of an object as read from the API.

    Args:
        ref: Which object it is.
        obj: The object.
    """
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    conditions = {
        str(c.get("type")): c
        for c in status.get("conditions") or []
        if str(c.get("status")).lower() == "true"
    }
    common: dict[str, Any] = {
        "ref": ref,
        "uid": meta.get("uid"),
        "resource_version": meta.get("resourceVersion"),
    }
    if ref.api_version == "batch/v1" and ref.kind == "Job":
        phase: Phase = "Created"
        condition: Obj = {}
        for kind, candidate in _JOB_PHASES:
            if kind in conditions:
                phase, condition = candidate, conditions[kind]
                break
        else:
            if int(status.get("active") or 0) > 0:
                phase = "Running"
        active = int(status.get("active") or 0)
        ready = status.get("ready")
        return ObjectStatus(
            **common,
            phase=phase,
            reason=str(condition.get("reason") or ""),
            message=str(condition.get("message") or ""),
            active=active,
            ready=active if ready is None else int(ready),
            succeeded=int(status.get("succeeded") or 0),
            failed=int(status.get("failed") or 0),
        )
    if "replicaStatuses" in status or "conditions" in status:
        phase = "Pending"
        condition = {}
        for kind, candidate in _KUBEFLOW_PHASES:
            if kind in conditions:
                phase, condition = candidate, conditions[kind]
                break
        replicas = (status.get("replicaStatuses") or {}).values()
        active = sum(int(r.get("active") or 0) for r in replicas)
        return ObjectStatus(
            **common,
            phase=phase,
            reason=str(condition.get("reason") or ""),
            message=str(condition.get("message") or ""),
            active=active,
            ready=active,
            succeeded=sum(int(r.get("succeeded") or 0) for r in replicas),
            failed=sum(int(r.get("failed") or 0) for r in replicas),
        )
    return ObjectStatus(**common, phase="Pending")


def deleted(ref: ObjectRef, last: ObjectStatus | None, resource_version: str | None) -> ObjectStatus:
    """The summary of an object that no longer exists."""
    base = last.model_dump(exclude={"ref", "exists", "phase", "resource_version"}) if last is not None else {}
    return ObjectStatus(**base, ref=ref, exists=False, phase="Deleted", resource_version=resource_version)
