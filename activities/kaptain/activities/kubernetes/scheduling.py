"""Scheduling feedback: which of a run's pods the cluster cannot place, and why.

A pod that fits on no node stays Pending with the condition ``PodScheduled`` False, reason
``Unschedulable``, and the scheduler's message (``0/3 nodes are available: 3 Insufficient
nvidia.com/gpu.``). The workload's own status says nothing of it (a Kubeflow job stays Created, a
batch/v1 Job counts the pod as active), so a run watches its pods for that condition; the original
SDK answered it with `WorkloadDeploymentError` (Kaptain 1.2). A cluster autoscaler that can add a
fitting node records the event ``TriggeredScaleUp`` on the pod, which tells a wait worth keeping
from a hopeless one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Final

from temporalio import activity

from kaptain.activities.kubernetes.client import KubeClient, KubeError
from kaptain.activities.kubernetes.errors import api_error
from kaptain.workflows.objects import ObjectRef, Scheduling, SchedulingRequest

__all__ = ["SCALE_UP_REASON", "unschedulable", "watch_scheduling"]

SCALE_UP_REASON: Final = "TriggeredScaleUp"
"""The reason of cluster-autoscaler's event on a pod it is adding a node for."""

Obj = dict[str, Any]

_PODS = ObjectRef(api_version="v1", kind="Pod", name="*")
_EVENTS = ObjectRef(api_version="v1", kind="Event", name="*")
# The server ends each watch after this long; the pods are then listed again.
_WATCH_SECONDS = 60
_RECONNECT_SECONDS = 1.0


def unschedulable(pods: Iterable[Obj]) -> dict[str, str]:
    """The pods the scheduler reported it cannot place.

    Args:
        pods: Pod objects.

    Returns:
        Pod name → the scheduler's message, for pending pods not being deleted.
    """
    found: dict[str, str] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        if meta.get("deletionTimestamp") or status.get("phase") not in (None, "Pending"):
            continue
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and str(condition.get("status")).lower() == "false"
                and condition.get("reason") == "Unschedulable"
            ):
                found[str(meta.get("name"))] = str(condition.get("message") or "no node can run the pod")
    return found


async def watch_scheduling(client: KubeClient, request: SchedulingRequest) -> Scheduling:
    """Wait until the run's unschedulable pods differ from ``request.known`` (or, with no
    ``known``, read them at once).

    Args:
        client: The cluster.
        request: The run's selector and what the workflow knows.

    Returns:
        The unschedulable pods, and whether an autoscaler is adding a node for them.

    Raises:
        ApplicationError: The pods cannot be listed or watched (see `api_error`).
    """
    while True:
        try:
            listed = await client.list_objects("v1", "Pod", label_selector=request.selector)
        except KubeError as err:
            raise api_error(err, _PODS, "list") from None
        pods = {str(p["metadata"]["name"]): p for p in listed.get("items") or []}
        current = unschedulable(pods.values())
        if request.known is None or current != request.known:
            return await _with_scale_up(client, current)
        version = str((listed.get("metadata") or {}).get("resourceVersion") or "0")
        try:
            async for event in client.watch(
                "v1",
                "Pod",
                resource_version=version,
                label_selector=request.selector,
                timeout_seconds=_WATCH_SECONDS,
            ):
                if event.type == "BOOKMARK":
                    continue
                name = str((event.object.get("metadata") or {}).get("name"))
                if event.type == "DELETED":
                    pods.pop(name, None)
                else:
                    pods[name] = event.object
                current = unschedulable(pods.values())
                if current != request.known:
                    return await _with_scale_up(client, current)
        except KubeError as err:
            if err.status == 0:
                await asyncio.sleep(_RECONNECT_SECONDS)
            elif err.status != 410:
                raise api_error(err, _PODS, "watch") from None
        # The watch ended (its timeout, a broken connection, an expired version): list again.


async def _with_scale_up(client: KubeClient, pods: dict[str, str]) -> Scheduling:
    if not pods:
        return Scheduling()
    try:
        events = await client.list_objects(
            "v1", "Event", field_selector=f"involvedObject.kind=Pod,reason={SCALE_UP_REASON}"
        )
    except KubeError as err:
        if err.status in (401, 403):
            # Without the right to read events the run cannot see an autoscaler at work; it then
            # fails after the schedule timeout, which a user can raise.
            activity.logger.warning("Cannot read events: %s", api_error(err, _EVENTS, "list"))
            return Scheduling(unschedulable=pods)
        raise api_error(err, _EVENTS, "list") from None
    scaling = any(
        str((event.get("involvedObject") or {}).get("name")) in pods for event in events.get("items") or []
    )
    return Scheduling(unschedulable=pods, scaling_up=scaling)
