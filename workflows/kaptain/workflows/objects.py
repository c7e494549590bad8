"""Contracts of the Kubernetes activities: object references, status summaries, requests.

Workflows call the activities by name (they may not import `kaptain.activities`), so the names
live here next to the models they take and return. The activities in
`kaptain.activities.kubernetes` implement them.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from kaptain.workflows.sealed import Sealed

__all__ = [
    "CREATE_OBJECT",
    "CREATE_SECRET",
    "DELETE_OBJECTS",
    "DELETE_RUN_OBJECTS",
    "FAILURE_DETAILS",
    "TERMINAL_PHASES",
    "WATCH_OBJECT",
    "WATCH_SCHEDULING",
    "CreateObjectRequest",
    "DeleteObjectsRequest",
    "DeleteRunObjectsRequest",
    "DeletedObjects",
    "FailureDetails",
    "FailureDetailsRequest",
    "Kind",
    "ObjectRef",
    "ObjectStatus",
    "Phase",
    "PodFailure",
    "Scheduling",
    "SchedulingRequest",
    "SecretRequest",
    "WatchProgress",
    "WatchRequest",
]

CREATE_OBJECT: Final = "kaptain.create_object"
CREATE_SECRET: Final = "kaptain.create_secret"
WATCH_OBJECT: Final = "kaptain.watch_object"
DELETE_OBJECTS: Final = "kaptain.delete_objects"
DELETE_RUN_OBJECTS: Final = "kaptain.delete_run_objects"
FAILURE_DETAILS: Final = "kaptain.failure_details"
WATCH_SCHEDULING: Final = "kaptain.watch_scheduling"

_FROZEN = ConfigDict(frozen=True, extra="forbid")

Phase = Literal["Pending", "Created", "Running", "Restarting", "Succeeded", "Failed", "Deleted"]
"""A workload's phase, derived from its status conditions (Kubeflow) or counters (batch/v1 Job)."""

TERMINAL_PHASES: Final[frozenset[str]] = frozenset({"Succeeded", "Failed", "Deleted"})


class Kind(BaseModel):
    """A Kubernetes kind: ``apiVersion`` and ``kind``."""

    model_config = _FROZEN

    api_version: str
    kind: str


class ObjectRef(BaseModel):
    """One object in the worker's namespace."""

    model_config = _FROZEN

    api_version: str
    kind: str
    name: str


class ObjectStatus(BaseModel):
    """What matters about an object's state, as the watch activity sees it.

    Attributes:
        ref: The object.
        exists: False once it is gone.
        uid: Its uid (tells two objects of the same name apart).
        resource_version: The version this summary was taken at.
        phase: Its phase.
        reason: The reason of the condition that set the phase.
        message: That condition's message.
        active: Pods running.
        ready: Pods ready (equals ``active`` for kinds that do not count readiness).
        succeeded: Pods that succeeded.
        failed: Pods that failed.
    """

    model_config = _FROZEN

    ref: ObjectRef
    exists: bool = True
    uid: str | None = None
    resource_version: str | None = None
    phase: Phase = "Pending"
    reason: str = ""
    message: str = ""
    active: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def terminal(self) -> bool:
        """Whether the object will not change any more (finished, or gone)."""
        return self.phase in TERMINAL_PHASES

    def differs_from(self, other: ObjectStatus | None) -> bool:
        """Whether this summary differs from ``other`` in a way that matters (not just its version)."""
        if other is None:
            return True
        return self._key() != other._key()

    def _key(self) -> tuple[object, ...]:
        return (self.exists, self.uid, self.phase, self.active, self.ready, self.succeeded, self.failed)


class CreateObjectRequest(BaseModel):
    """Create one object; `AlreadyExists` with the same revision label counts as created.

    Attributes:
        manifest: The object (its ``metadata.namespace`` is filled in by the activity).
    """

    model_config = _FROZEN

    manifest: dict[str, Any]


class SecretRequest(BaseModel):
    """Create one Secret whose values are opened only by the activity.

    Attributes:
        name: The Secret's name.
        labels: Its labels (the run's labels).
        annotations: Its annotations.
        type: ``Opaque`` or ``kubernetes.io/dockerconfigjson``.
        data: Key → sealed value.
        data_from: A sealed JSON object whose items become keys (a provider's Secret body).
        plain_data: Keys whose values are not secret (a CA certificate).
    """

    model_config = _FROZEN

    name: str
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    type: str = "Opaque"
    data: dict[str, Sealed] = Field(default_factory=dict)
    data_from: Sealed | None = None
    plain_data: dict[str, str] = Field(default_factory=dict)


class WatchRequest(BaseModel):
    """Wait until an object's status differs from ``last`` in a way that matters.

    Attributes:
        ref: The object.
        last: The summary the workflow knows; None returns the current summary at once.
    """

    model_config = _FROZEN

    ref: ObjectRef
    last: ObjectStatus | None = None


class SchedulingRequest(BaseModel):
    """Wait until the set of a run's pods that the scheduler cannot place differs from ``known``.

    Attributes:
        selector: The run's label selector.
        known: Pod name → scheduler message, as the workflow knows them; None returns the current
            state at once.
    """

    model_config = _FROZEN

    selector: str
    known: dict[str, str] | None = None


class Scheduling(BaseModel):
    """Which of a run's pods the scheduler cannot place, and why.

    Attributes:
        unschedulable: Pod name → the scheduler's message (condition ``PodScheduled`` False with
            reason ``Unschedulable``, e.g. ``0/3 nodes are available: 3 Insufficient
            nvidia.com/gpu.``).
        scaling_up: A cluster autoscaler has triggered a scale-up for one of them (event
            ``TriggeredScaleUp``), so a node may be on its way.
    """

    model_config = _FROZEN

    unschedulable: dict[str, str] = Field(default_factory=dict)
    scaling_up: bool = False

    def summary(self) -> str:
        """``<pod>: <message>`` of the first pod (by name), with how many more there are."""
        if not self.unschedulable:
            return ""
        first = min(self.unschedulable)
        more = len(self.unschedulable) - 1
        return f"{first}: {self.unschedulable[first]}" + (f" (and {more} more pods)" if more else "")


class WatchProgress(BaseModel):
    """The watch activity's heartbeat details: where a retried attempt resumes.

    Attributes:
        resource_version: The last version the watch saw (events, bookmarks or lists).
    """

    model_config = _FROZEN

    resource_version: str | None = None


class DeleteObjectsRequest(BaseModel):
    """Delete objects by name (absent ones count as deleted).

    Attributes:
        refs: The objects.
        propagation: How dependents (pods) go: ``Background`` or ``Foreground``.
    """

    model_config = _FROZEN

    refs: list[ObjectRef]
    propagation: Literal["Background", "Foreground"] = "Background"


class DeleteRunObjectsRequest(BaseModel):
    """Delete every object of a run, found by label, and wait until they are gone.

    Attributes:
        selector: The run's label selector.
        kinds: Kinds to sweep, owners first (kinds the cluster does not serve are skipped).
        wait_seconds: How long to wait for the objects (and their pods) to disappear.
    """

    model_config = _FROZEN

    selector: str
    kinds: list[Kind]
    wait_seconds: float = 60.0


class DeletedObjects(BaseModel):
    """What a delete removed.

    Attributes:
        deleted: ``Kind/name`` of each object deleted.
        remaining: ``Kind/name`` of objects still present when the wait ended.
    """

    model_config = _FROZEN

    deleted: list[str] = Field(default_factory=list)
    remaining: list[str] = Field(default_factory=list)


class FailureDetailsRequest(BaseModel):
    """Why a run's pods failed.

    Attributes:
        selector: The run's label selector (its pods carry the run's labels).
        tail_lines: How many log lines to keep per failed container.
        max_pods: At most this many failed pods are described.
    """

    model_config = _FROZEN

    selector: str
    tail_lines: int = Field(default=20, ge=1, le=1000)
    max_pods: int = Field(default=3, ge=1)


class PodFailure(BaseModel):
    """One failed container."""

    model_config = _FROZEN

    pod: str
    container: str
    exit_code: int | None = None
    reason: str = ""
    log_tail: str = ""


class FailureDetails(BaseModel):
    """The failed containers of a run, and a one-paragraph summary of them."""

    model_config = _FROZEN

    failures: list[PodFailure] = Field(default_factory=list)

    def summary(self) -> str:
        """Human-readable: ``pod/container exited with 1 (Error): <last log lines>``."""
        parts = []
        for failure in self.failures:
            head = f"{failure.pod}/{failure.container}"
            if failure.exit_code is not None:
                head += f" exited with {failure.exit_code}"
            if failure.reason:
                head += f" ({failure.reason})"
            parts.append(f"{head}: {failure.log_tail.strip()}" if failure.log_tail.strip() else head)
        return "\n".join(parts)
