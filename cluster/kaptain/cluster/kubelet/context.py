"""What all pod workers of one kubelet share: the API, images, process registry, logs, events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.images.store import ImageStore
from kaptain.cluster.kubelet.logs import LogState
from kaptain.cluster.kubelet.procs import GroupRegistry
from kaptain.cluster.kubelet.status import now_rfc3339

_log = logging.getLogger(__name__)
_EVENT_QUEUE = 1000
_EVENT_MEMORY = 2000


@dataclass(frozen=True)
class _PendingEvent:
    pod: Object
    type: str
    reason: str
    message: str
    field_path: str | None
    component: str


@dataclass
class KubeletContext:
    """Shared state of one kubelet.

    Attributes:
        core: The API core.
        pods: The pods resource type.
        node_name: This node's name.
        data_dir: The cluster's data dir.
        images: The image store.
        groups: The process-group registry.
        capacity: What this node offers (`scheduling.node_capacity`).
        service: The API server's (host, port) for `KUBERNETES_SERVICE_*`, if known.
    """

    core: ApiCore
    pods: ResourceType
    node_name: str
    data_dir: Path
    images: ImageStore
    groups: GroupRegistry
    capacity: Mapping[str, Decimal]
    service: tuple[str, int] | None = None
    _log_states: dict[tuple[str, str], LogState] = field(default_factory=dict)
    _events: asyncio.Queue[_PendingEvent] = field(default_factory=lambda: asyncio.Queue(_EVENT_QUEUE))
    _recent: OrderedDict[tuple[str, str, str, str], tuple[str, int]] = field(default_factory=OrderedDict)

    @property
    def pods_dir(self) -> Path:
        return self.data_dir / "pods"

    def pod_dir(self, pod: Object) -> Path:
        """`<data-dir>/pods/<namespace>_<name>_<uid>`: the pod's volumes, sandboxes and logs."""
        meta = pod.get("metadata") or {}
        return self.pods_dir / f"{meta.get('namespace')}_{meta.get('name')}_{meta.get('uid')}"

    def log_state(self, uid: str, container: str) -> LogState:
        """The log state of a container (created on first use)."""
        key = (uid, container)
        if key not in self._log_states:
            self._log_states[key] = LogState()
        return self._log_states[key]

    def forget_logs(self, uid: str) -> None:
        """Drops the log states of a deleted pod, waking its followers so they end."""
        for key in [k for k in self._log_states if k[0] == uid]:
            state = self._log_states.pop(key)
            state.active = False
            state.notify()

    def forget_logs_all(self) -> None:
        """Ends every follower (the kubelet stops)."""
        for uid in {k[0] for k in self._log_states}:
            self.forget_logs(uid)

    def event(
        self,
        pod: Object,
        *,
        type_: str,
        reason: str,
        message: str,
        field_path: str | None = None,
        component: str = "kubelet",
    ) -> None:
        """Queues a core/v1 Event about a pod (best effort: dropped when the queue is full)."""
        with contextlib.suppress(asyncio.QueueFull):
            self._events.put_nowait(_PendingEvent(pod, type_, reason, message, field_path, component))

    async def send_events(self) -> None:
        """Writes queued events until cancelled; repeated events bump `count` as Kubernetes does."""
        while True:
            pending = await self._events.get()
            try:
                await self._send(pending)
            except ApiError as exc:
                _log.debug("event %s not recorded: %s", pending.reason, exc.message)
            except Exception:
                _log.exception("event %s not recorded", pending.reason)

    async def flush_events(self, seconds: float) -> None:
        """Writes what is queued, for at most `seconds`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self._events.empty():
                    pending = self._events.get_nowait()
                    with contextlib.suppress(ApiError):
                        await self._send(pending)

    async def _send(self, pending: _PendingEvent) -> None:
        rt = self.core.registry.get("", "v1", "events")
        if rt is None:
            return
        meta = pending.pod.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        stamp = now_rfc3339()
        key = (str(meta.get("uid")), pending.reason, pending.message, pending.field_path or "")
        if key in self._recent:
            name, count = self._recent[key]
            self._recent.move_to_end(key)
            self._recent[key] = (name, count + 1)
            try:
                await self.core.patch(
                    rt,
                    namespace,
                    name,
                    {"count": count + 1, "lastTimestamp": stamp},
                    "application/merge-patch+json",
                )
                return
            except ApiError as exc:
                if exc.code != 404:
                    raise
        name = f"{meta.get('name')}.{uuid.uuid4().hex[:16]}"
        involved: Object = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta.get("name"),
            "namespace": namespace,
            "uid": meta.get("uid"),
        }
        if meta.get("resourceVersion"):
            involved["resourceVersion"] = meta["resourceVersion"]
        if pending.field_path:
            involved["fieldPath"] = pending.field_path
        host = None if pending.component == "default-scheduler" else self.node_name
        event: Object = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": pending.reason,
            "message": pending.message,
            "type": pending.type,
            "source": {"component": pending.component, **({"host": host} if host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": pending.component,
            "reportingInstance": self.node_name if host else "",
        }
        await self.core.create(rt, namespace, event)
        self._recent[key] = (name, 1)
        while len(self._recent) > _EVENT_MEMORY:
            self._recent.popitem(last=False)
