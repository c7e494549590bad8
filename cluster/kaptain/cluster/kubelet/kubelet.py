"""The kubelet (and scheduler) of the embedded cluster's single node.

It watches all pods; a pod without `spec.nodeName` is bound to this node and run when its requests
fit the node's capacity, else left Pending with `PodScheduled` False / `Unschedulable` and a
`FailedScheduling` event, as kube-scheduler reports it (see `scheduling`); a pod bound here is run
by a `PodWorker`. On start it kills what a previous life left running, then re-lists:
pods it was running are resumed (see `PodWorker`): with `restartPolicy` Always or OnFailure their
vanished containers are restarted (restartCount + 1, lastState `ContainerStatusUnknown`), with
Never the pod fails with those containers terminated as `ContainerStatusUnknown`, as Kubernetes
reports containers that could not be located.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.images.store import ImageStore
from kaptain.cluster.kubelet.context import KubeletContext
from kaptain.cluster.kubelet.logreader import read_pod_log
from kaptain.cluster.kubelet.pod import PodWorker
from kaptain.cluster.kubelet.procs import GroupRegistry
from kaptain.cluster.kubelet.scheduling import node_capacity, unschedulable_message
from kaptain.cluster.kubelet.status import TERMINAL_PHASES, now_rfc3339

_log = logging.getLogger(__name__)
_WATCH_SECONDS = 300.0
_RETRY_SECONDS = 1.0
_STOP_GRACE = 2.0


class Kubelet:
    """Schedules and runs the cluster's pods as local processes.

    Args:
        core: The API core.
        data_dir: The cluster's data dir; pods live under `pods/`, the kubelet's records under
            `kubelet/`.
        images: The image store resolving container images.
        node_name: The name of this node.
        service_host: The API server's host for `KUBERNETES_SERVICE_HOST` (unset when None).
        service_port: The API server's port for `KUBERNETES_SERVICE_PORT`.
        stop_grace: Seconds between SIGTERM and SIGKILL for containers when the kubelet stops.
        extended_resources: Counts of extended resources this node offers (e.g.
            `{"nvidia.com/gpu": 1}`); none by default, so pods requesting some are unschedulable.

    Raises:
        ValueError: The core does not serve pods, or an extended resource's name or count is invalid.
    """

    def __init__(
        self,
        core: ApiCore,
        *,
        data_dir: Path,
        images: ImageStore,
        node_name: str = "kaptain",
        service_host: str | None = None,
        service_port: int | None = None,
        stop_grace: float = _STOP_GRACE,
        extended_resources: Mapping[str, int] | None = None,
    ) -> None:
        pods = core.registry.get("", "v1", "pods")
        if pods is None:
            raise ValueError("the API core does not serve pods")
        data_dir = data_dir.resolve()
        marker = hashlib.sha256(f"{data_dir}\0{node_name}".encode()).hexdigest()[:24]
        self._ctx = KubeletContext(
            core=core,
            pods=pods,
            node_name=node_name,
            data_dir=data_dir,
            images=images,
            groups=GroupRegistry(data_dir / "kubelet" / "groups", marker),
            capacity=node_capacity(data_dir, extended_resources),
            service=(service_host, service_port) if service_host and service_port else None,
        )
        self._stop_grace = stop_grace
        self._workers: dict[str, PodWorker] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._events: asyncio.Task[None] | None = None
        self._running = False

    @property
    def node_name(self) -> str:
        return self._ctx.node_name

    @property
    def capacity(self) -> Mapping[str, Decimal]:
        """What this node offers to pods: resource name → amount in base units."""
        return self._ctx.capacity

    @property
    def process_marker(self) -> str:
        """The value of `KAPTAIN_KUBELET_NODE` in every container process of this kubelet."""
        return self._ctx.groups.marker

    async def start(self) -> None:
        """Kills leftovers of a previous life, resumes this node's pods and starts watching.

        Raises:
            ApiError: The initial list of pods failed.
        """
        if self._running:
            return
        self._ctx.pods_dir.mkdir(parents=True, exist_ok=True)
        killed = await asyncio.to_thread(self._ctx.groups.kill_leftovers)
        if killed:
            _log.warning("killed %d processes left behind by a previous kubelet: %s", len(killed), killed)
        items, version = await self._ctx.core.list(self._ctx.pods, None)
        self._running = True
        self._events = asyncio.create_task(self._ctx.send_events(), name="kubelet events")
        for pod in items:
            await self._handle("ADDED", pod)
        await asyncio.to_thread(self._remove_orphan_dirs, items)
        self._watcher = asyncio.create_task(self._watch(version), name="kubelet watch")

    async def stop(self) -> None:
        """Stops every container (SIGTERM, SIGKILL after the stop grace) and the kubelet's tasks."""
        if not self._running:
            return
        self._running = False
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        workers = list(self._workers.values())
        await asyncio.gather(*(w.shutdown(self._stop_grace) for w in workers), return_exceptions=True)
        # Pods being discarded or finalised are still stopping containers: let them finish first.
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._stop_grace + 5.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._workers.clear()
        if self._events is not None:
            self._events.cancel()
            await asyncio.gather(self._events, return_exceptions=True)
            await self._ctx.flush_events(1.0)
        self._ctx.forget_logs_all()

    def read_log(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
    ) -> AsyncIterator[bytes]:
        """Yields a container's log (`pods/log`); see `LogSource`.

        Args:
            namespace: The pod's namespace.
            pod: The pod's name.
            container: The container; may be omitted when the pod has one container.
            follow: Keep yielding until the container terminates (waits for it to start).
            tail_lines: Only the last so many lines.
            timestamps: Prefix lines with their RFC3339Nano time.
            previous: The log of the previous (restarted) instance.

        Returns:
            An async iterator of byte chunks; errors are raised on the first iteration.

        Raises:
            ApiError: 404 for an unknown pod; 400 when the container is missing, unknown, not
                started yet (without `follow`), or has no previous instance.
        """
        return read_pod_log(
            self._ctx,
            namespace,
            pod,
            container,
            follow=follow,
            tail_lines=tail_lines,
            timestamps=timestamps,
            previous=previous,
        )

    # -- watching -----------------------------------------------------------------------

    async def _watch(self, version: str) -> None:
        current: str | None = version
        while self._running:
            began = time.monotonic()
            try:
                if current is None:
                    current = await self._resync()
                current = await self._follow(current)
            except ApiError as exc:
                if exc.code == 410:
                    current = None
                else:
                    _log.warning("pod watch failed: %s", exc.message)
            except Exception:
                _log.exception("pod watch failed")
            # A watch that ends at once (errors, a closing server) must not turn into a busy loop.
            if time.monotonic() - began < _RETRY_SECONDS:
                await asyncio.sleep(_RETRY_SECONDS)

    async def _follow(self, version: str) -> str:
        """Handles pod events from `version` until the watch times out; returns the last version."""
        async for event in self._ctx.core.watch(
            self._ctx.pods,
            None,
            resource_version=version,
            allow_bookmarks=True,
            timeout_seconds=_WATCH_SECONDS,
        ):
            obj = event["object"]
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                await self._handle(event["type"], obj)
        return version

    async def _resync(self) -> str:
        """Re-lists pods after the watch history was lost (410 Gone)."""
        items, version = await self._ctx.core.list(self._ctx.pods, None)
        for pod in items:
            await self._handle("MODIFIED", pod)
        await self._forget_missing({str(p["metadata"]["uid"]) for p in items})
        return version

    async def _handle(self, kind: str, pod: Object) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        uid = str(meta.get("uid", ""))
        if kind == "DELETED":
            worker = self._workers.pop(uid, None)
            self._spawn(self._discard(pod, worker))
            return
        node = spec.get("nodeName")
        if not node:
            # An unbound pod being deleted has no containers to stop: the API server removes it.
            if not meta.get("deletionTimestamp"):
                await self._schedule(pod)
            return
        if node != self._ctx.node_name:
            return
        worker = self._workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        phase = (pod.get("status") or {}).get("phase")
        if meta.get("deletionTimestamp") and phase in TERMINAL_PHASES:
            self._spawn(self._finalize(pod))
            return
        if phase in TERMINAL_PHASES:
            return
        worker = PodWorker(self._ctx, pod, resume=bool((pod.get("status") or {}).get("startTime")))
        self._workers[uid] = worker
        worker.start()
        worker.update(pod)

    async def _schedule(self, pod: Object) -> None:
        message = unschedulable_message(pod, self._ctx.capacity)
        if message is None:
            await self._bind(pod)
        else:
            await self._mark_unschedulable(pod, message)

    async def _mark_unschedulable(self, pod: Object, message: str) -> None:
        meta = pod["metadata"]
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        conditions = [c for c in (pod.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]
        previous = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        if (
            previous is not None
            and previous.get("status") == "False"
            and previous.get("reason") == "Unschedulable"
            and previous.get("message") == message
        ):
            # Already reported: this is the watch event of our own status write.
            return
        stamp = now_rfc3339()
        if previous is not None and previous.get("status") == "False" and previous.get("lastTransitionTime"):
            stamp = str(previous["lastTransitionTime"])
        condition: Object = {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": stamp,
            "reason": "Unschedulable",
            "message": message,
        }
        patch: Object = {
            # The version makes a stale event's write fail; the newer event is handled in its turn.
            "metadata": {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
            "status": {
                "phase": "Pending",
                "conditions": [c for c in conditions if c.get("type") != "PodScheduled"] + [condition],
            },
        }
        try:
            marked = await self._ctx.core.patch(
                self._ctx.pods, namespace, name, patch, "application/merge-patch+json", subresource="status"
            )
        except ApiError as exc:
            if exc.code not in (404, 409):
                _log.warning("cannot mark pod %s/%s unschedulable: %s", namespace, name, exc.message)
            return
        self._ctx.event(
            marked, type_="Warning", reason="FailedScheduling", message=message, component="default-scheduler"
        )

    async def _bind(self, pod: Object) -> None:
        meta = pod["metadata"]
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        try:
            bound = await self._ctx.core.patch(
                self._ctx.pods,
                namespace,
                name,
                {"metadata": {"uid": meta.get("uid")}, "spec": {"nodeName": self._ctx.node_name}},
                "application/merge-patch+json",
            )
        except ApiError as exc:
            if exc.code not in (404, 409):
                _log.warning("cannot bind pod %s/%s: %s", namespace, name, exc.message)
            return
        self._ctx.event(
            bound,
            type_="Normal",
            reason="Scheduled",
            message=f"Successfully assigned {namespace}/{name} to {self._ctx.node_name}",
            component="default-scheduler",
        )
        await self._handle("MODIFIED", bound)

    async def _finalize(self, pod: Object) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):
            await self._ctx.core.delete(
                self._ctx.pods,
                str(meta.get("namespace")),
                str(meta.get("name")),
                grace_period_seconds=0,
                preconditions={"uid": str(meta.get("uid"))},
            )

    async def _discard(self, pod: Object, worker: PodWorker | None) -> None:
        if worker is not None:
            await worker.shutdown(0)
        self._ctx.forget_logs(str((pod.get("metadata") or {}).get("uid", "")))
        await asyncio.to_thread(shutil.rmtree, self._ctx.pod_dir(pod), True)

    async def _forget_missing(self, present: set[str]) -> None:
        for uid in [u for u in self._workers if u not in present]:
            worker = self._workers.pop(uid)
            self._spawn(self._discard(worker.pod, worker))

    def _remove_orphan_dirs(self, items: list[Object]) -> None:
        known = {self._ctx.pod_dir(p).name for p in items}
        for path in self._ctx.pods_dir.iterdir():
            if path.is_dir() and path.name not in known:
                shutil.rmtree(path, ignore_errors=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
