"""Pod status as the kubelet reports it: container statuses, phase and conditions.

Phase and conditions follow the kubelet's `getPhase` and `generateAPIPodStatus`: a container
waiting after a previous termination counts as stopped (it is restarting), a pod whose containers
all stopped is Succeeded when all exited 0 and restarts are not wanted, Failed when
`restartPolicy` is Never and one failed, and Running while containers will restart.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from kaptain.cluster.apiserver.interface import Object

POD_IP = "127.0.0.1"
TERMINAL_PHASES = ("Succeeded", "Failed")


def now_rfc3339() -> str:
    """The current time as a Kubernetes timestamp (`2024-01-02T03:04:05Z`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class ContainerStatus:
    """The status of one container, mutated by its runner.

    Attributes:
        name: The container name.
        image: The image as written in the spec.
        image_id: The resolved image id ("" until resolved).
        container_id: The id of the current (or last) instance.
        state: `{"waiting": ...}`, `{"running": ...}` or `{"terminated": ...}`.
        last_state: The previous instance's state (`{}` before a restart).
        restart_count: How often the container was restarted.
        ready: Whether it passes its readiness probe (running without one counts as ready).
        started: Whether it is running (no startup probes).
    """

    name: str
    image: str
    image_id: str = ""
    container_id: str = ""
    state: Object = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Object = field(default_factory=dict)
    restart_count: int = 0
    ready: bool = False
    started: bool = False

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def terminated(self) -> Object | None:
        found = self.state.get("terminated")
        return found if isinstance(found, dict) else None

    @property
    def succeeded(self) -> bool:
        term = self.terminated
        return term is not None and term.get("exitCode") == 0

    def waiting(self, reason: str, message: str | None = None) -> None:
        """Puts the container into the waiting state."""
        body: Object = {"reason": reason}
        if message:
            body["message"] = message
        self.state = {"waiting": body}
        self.ready = self.started = False

    def to_dict(self) -> Object:
        """The `ContainerStatus` object."""
        out: Object = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": copy.deepcopy(self.state),
            "lastState": copy.deepcopy(self.last_state),
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out

    @classmethod
    def from_dict(cls, data: Object, image: str) -> ContainerStatus:
        """Rebuilds a status from a stored `ContainerStatus` (after a kubelet restart)."""
        return cls(
            name=str(data.get("name", "")),
            image=image,
            image_id=str(data.get("imageID", "")),
            container_id=str(data.get("containerID", "")),
            state=copy.deepcopy(data.get("state") or {"waiting": {"reason": "ContainerCreating"}}),
            last_state=copy.deepcopy(data.get("lastState") or {}),
            restart_count=int(data.get("restartCount", 0)),
            ready=False,
            started=False,
        )


def pod_phase(restart_policy: str, init: list[ContainerStatus], main: list[ContainerStatus]) -> str:
    """The pod phase from its container statuses (kubelet `getPhase`).

    Args:
        restart_policy: Always, OnFailure or Never.
        init: The init containers' statuses.
        main: The regular containers' statuses.

    Returns:
        Pending, Running, Succeeded or Failed.
    """
    for status in init:
        if status.succeeded:
            continue
        if status.terminated is not None and restart_policy == "Never":
            return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for status in main:
        if status.running:
            running += 1
        elif status.terminated is not None:
            stopped += 1
            succeeded += int(status.succeeded)
        elif "terminated" in status.last_state:
            stopped += 1
        else:
            waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(kind: str, ok: bool, reason: str | None = None, message: str | None = None) -> Object:
    cond: Object = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_conditions(phase: str, init: list[ContainerStatus], main: list[ContainerStatus]) -> list[Object]:
    """The conditions Initialized, Ready, ContainersReady, PodScheduled (without transition times).

    Args:
        phase: The pod phase.
        init: The init containers' statuses.
        main: The regular containers' statuses.

    Returns:
        The conditions in kubelet order.
    """
    completed = "PodCompleted" if phase == "Succeeded" else None
    pending_init = [s.name for s in init if not s.succeeded]
    if pending_init and phase != "Succeeded":
        initialized = _condition(
            "Initialized",
            False,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(pending_init)}]",
        )
    else:
        initialized = _condition("Initialized", True, completed)
    unready = [s.name for s in main if not s.ready]
    if completed:
        ready = _condition("Ready", False, completed)
        containers_ready = _condition("ContainersReady", False, completed)
    elif unready:
        message = f"containers with unready status: [{' '.join(unready)}]"
        ready = _condition("Ready", False, "ContainersNotReady", message)
        containers_ready = _condition("ContainersReady", False, "ContainersNotReady", message)
    else:
        ready = _condition("Ready", True)
        containers_ready = _condition("ContainersReady", True)
    return [initialized, ready, containers_ready, _condition("PodScheduled", True)]


def with_transition_times(conditions: list[Object], previous: list[Any]) -> list[Object]:
    """Sets `lastTransitionTime`, keeping the previous one where the status did not change.

    Args:
        conditions: The new conditions.
        previous: The conditions currently stored.

    Returns:
        The conditions with transition times.
    """
    before = {c.get("type"): c for c in previous if isinstance(c, dict)}
    stamp = now_rfc3339()
    out: list[Object] = []
    for cond in conditions:
        old = before.get(cond["type"])
        same = old is not None and old.get("status") == cond["status"] and old.get("lastTransitionTime")
        out.append({**cond, "lastTransitionTime": old["lastTransitionTime"] if same and old else stamp})
    return out
