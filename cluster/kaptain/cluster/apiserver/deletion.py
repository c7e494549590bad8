"""What a delete does to an object: remove it now, or mark it deleting and wait.

This follows the generic registry of Kubernetes (`store.Delete`, `rest.BeforeDelete`,
`deletionFinalizersForGarbageCollection`): the propagation policy becomes the `orphan` or
`foregroundDeletion` finalizer; an object with finalizers, a pod bound to a node (graceful
termination by the kubelet) and a namespace (emptied by the namespace controller) only get
`deletionTimestamp`; everything else is removed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.builtin import is_namespace, is_pod
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.strategy import (
    copy_json,
    default_propagation,
    has_generation,
    pod_grace_period,
    rfc3339,
    timestamp_in,
)
from kaptain.cluster.apiserver.strategy import now as utc_now

Object = dict[str, Any]

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
POLICIES = ("Background", "Foreground", "Orphan")


@dataclass(frozen=True)
class DeletePlan:
    """The outcome of a delete: `remove` the object now, or store `updated` (None: nothing changes)."""

    remove: bool
    obj: Object
    updated: bool


def check_policy(policy: str | None) -> None:
    """Raises 400 for a propagationPolicy Kubernetes does not know."""
    if policy is not None and policy not in POLICIES:
        raise ApiError.bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: "Background", "Foreground", "Orphan"'
        )


def check_preconditions(rt: ResourceType, obj: Object, preconditions: dict[str, str] | None) -> None:
    """Raises 409 when the delete's uid/resourceVersion preconditions do not hold."""
    if not preconditions:
        return
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    want_uid = preconditions.get("uid")
    if want_uid and want_uid != meta.get("uid"):
        raise ApiError.conflict(
            rt.group,
            rt.plural,
            name,
            f"Precondition failed: UID in precondition: {want_uid}, UID in object meta: {meta.get('uid')}",
        )
    want_rv = preconditions.get("resourceVersion")
    if want_rv and want_rv != meta.get("resourceVersion"):
        raise ApiError.conflict(
            rt.group,
            rt.plural,
            name,
            "Precondition failed: ResourceVersion in precondition: "
            f"{want_rv}, ResourceVersion in object meta: {meta.get('resourceVersion')}",
        )


def _gc_finalizers(rt: ResourceType, finalizers: list[str], policy: str | None) -> list[str]:
    """The finalizers after applying a propagation policy (an explicit policy wins over old ones)."""
    if policy is None:
        if ORPHAN_FINALIZER in finalizers:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in finalizers:
            policy = "Foreground"
        else:
            policy = default_propagation(rt)
    kept = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if policy == "Orphan":
        kept.append(ORPHAN_FINALIZER)
    elif policy == "Foreground":
        kept.append(FOREGROUND_FINALIZER)
    return kept


def pending(rt: ResourceType, obj: Object) -> bool:
    """Whether a deleting object must stay: finalizers left, grace running, namespace not empty yet."""
    meta = obj.get("metadata") or {}
    if meta.get("finalizers"):
        return True
    if int(meta.get("deletionGracePeriodSeconds") or 0) > 0:
        return True
    return is_namespace(rt) and bool((obj.get("spec") or {}).get("finalizers"))


def should_remove_on_update(rt: ResourceType, obj: Object) -> bool:
    """Whether an update leaves a deleting object with nothing to wait for (it is then removed)."""
    return bool((obj.get("metadata") or {}).get("deletionTimestamp")) and not pending(rt, obj)


def plan_delete(rt: ResourceType, current: Object, *, policy: str | None, grace: int | None) -> DeletePlan:
    """Decides what a delete does.

    Args:
        rt: The object's resource.
        current: The stored object (not modified).
        policy: The request's propagationPolicy, or None for the kind's default.
        grace: The request's gracePeriodSeconds, or None.

    Returns:
        The plan; `obj` is a fresh copy of the object as it will be stored or as it was removed.
    """
    obj: Object = copy_json(current)
    meta = obj.setdefault("metadata", {})
    old_finalizers = list(meta.get("finalizers") or [])
    new_finalizers = _gc_finalizers(rt, old_finalizers, policy)
    changed = set(new_finalizers) != set(old_finalizers)
    if changed:
        meta["finalizers"] = new_finalizers
    if not meta.get("finalizers"):
        meta.pop("finalizers", None)
    period = pod_grace_period(current, grace) if is_pod(rt) else 0

    if meta.get("deletionTimestamp"):
        # A second delete may only shorten a running grace period.
        old_period = int(meta.get("deletionGracePeriodSeconds") or 0)
        if period < old_period:
            meta["deletionGracePeriodSeconds"] = period
            meta["deletionTimestamp"] = timestamp_in(period)
            changed = True
        if not pending(rt, obj):
            return DeletePlan(remove=True, obj=obj, updated=False)
        return DeletePlan(remove=False, obj=obj, updated=changed)

    if period > 0:
        meta["deletionTimestamp"] = timestamp_in(period)
        meta["deletionGracePeriodSeconds"] = period
    elif meta.get("finalizers") or (is_namespace(rt) and (obj.get("spec") or {}).get("finalizers")):
        meta["deletionTimestamp"] = rfc3339(utc_now())
        meta["deletionGracePeriodSeconds"] = 0
    else:
        return DeletePlan(remove=True, obj=obj, updated=False)
    if has_generation(rt) and "generation" in meta:
        meta["generation"] = int(meta["generation"]) + 1
    if is_namespace(rt):
        obj.setdefault("status", {})["phase"] = "Terminating"
    return DeletePlan(remove=False, obj=obj, updated=True)
