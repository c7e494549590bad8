"""The worker of one pod on this node: volumes, init containers, containers, deadline, termination.

A worker publishes the pod status whenever it changes (never when it did not), through the
`status` subresource, re-reading the pod on 409 Conflict. Termination (deletion, active deadline,
kubelet stop) stops every container gracefully; on deletion the worker then removes the pod object
with grace period 0 and the pod's directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.kubelet.container import BACKOFF_INITIAL, BACKOFF_MAX, ContainerRunner
from kaptain.cluster.kubelet.context import KubeletContext
from kaptain.cluster.kubelet.refs import ConfigError, RefReader
from kaptain.cluster.kubelet.status import (
    POD_IP,
    TERMINAL_PHASES,
    ContainerStatus,
    now_rfc3339,
    pod_conditions,
    pod_phase,
    with_transition_times,
)
from kaptain.cluster.kubelet.volumes import MountFailure, UnsupportedVolume, check_volumes, prepare_volumes

_log = logging.getLogger(__name__)
_WRITE_ATTEMPTS = 8
_DEFAULT_GRACE = 30
LOST_MESSAGE = "The container could not be located when the pod was terminated"


def _parse_time(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return time.time()


def lost(status: ContainerStatus) -> Object:
    """The terminated state of a container whose process vanished (cluster process restart)."""
    running = status.state.get("running") or {}
    term: Object = {
        "exitCode": 137,
        "reason": "ContainerStatusUnknown",
        "message": LOST_MESSAGE,
        "finishedAt": now_rfc3339(),
    }
    if running.get("startedAt"):
        term["startedAt"] = running["startedAt"]
    if status.container_id:
        term["containerID"] = status.container_id
    return {"terminated": term}


class PodWorker:
    """Runs one pod.

    Args:
        ctx: The kubelet's shared state.
        pod: The pod (bound to this node).
        resume: Restore container statuses from the stored status (after a kubelet restart):
            containers that were running are counted as lost and restarted.
    """

    def __init__(self, ctx: KubeletContext, pod: Object, *, resume: bool = False) -> None:
        self.ctx = ctx
        self.pod = pod
        meta = pod.get("metadata") or {}
        self.uid = str(meta.get("uid", ""))
        self.namespace = str(meta.get("namespace", ""))
        self.name = str(meta.get("name", ""))
        self.pod_dir = ctx.pod_dir(pod)
        self.volumes: dict[str, Path] = {}
        self.stopping = False
        self.silent = False
        self.gone = False
        self._stop_event = asyncio.Event()
        self._stop_deadline = 0.0
        self._reason: str | None = None
        self._message: str | None = None
        self._force_terminal = False
        self._published: Object | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._terminating: asyncio.Task[None] | None = None
        self._deadline_hit: asyncio.Task[None] | None = None
        status = pod.get("status") or {}
        self._start_time = str(status.get("startTime") or now_rfc3339())
        spec = pod.get("spec") or {}
        stored = {
            "init": {s.get("name"): s for s in status.get("initContainerStatuses") or []},
            "main": {s.get("name"): s for s in status.get("containerStatuses") or []},
        }
        self.init_runners = [
            self._runner(c, True, stored["init"], resume) for c in spec.get("initContainers") or []
        ]
        self.main_runners = [
            self._runner(c, False, stored["main"], resume) for c in spec.get("containers") or []
        ]
        if resume:
            self._published = copy.deepcopy(status)

    def _runner(
        self, spec: Object, init: bool, stored: dict[object, Object], resume: bool
    ) -> ContainerRunner:
        name = str(spec.get("name", ""))
        image = str(spec.get("image", ""))
        if resume and name in stored:
            status = ContainerStatus.from_dict(stored[name], image)
            self._resume_status(status, init)
        else:
            status = ContainerStatus(name=name, image=image)
            if init or spec_has_init(self.pod):
                status.waiting("PodInitializing")
        return ContainerRunner(self, spec, init=init, status=status)

    def _resume_status(self, status: ContainerStatus, init: bool) -> None:
        policy = self.restart_policy
        term = status.terminated
        if status.running:
            if policy == "Never":
                status.state = lost(status)
                status.ready = status.started = False
                return
            status.last_state = lost(status)
        elif term is not None:
            restart = (policy == "Always" and not init) or (policy != "Never" and term.get("exitCode") != 0)
            if not restart:
                return
            status.last_state = {"terminated": term}
        else:
            # Waiting: never started, or in back-off (already counted as a restart).
            status.waiting("ContainerCreating")
            return
        status.restart_count += 1
        status.waiting("ContainerCreating")

    # -- properties the runners use ------------------------------------------------------

    @property
    def restart_policy(self) -> str:
        return str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")

    def grace_period(self) -> float:
        """The pod's termination grace period in seconds."""
        value = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return float(value) if isinstance(value, int | float) and value >= 0 else float(_DEFAULT_GRACE)

    def remaining_grace(self) -> float:
        """Seconds left of the grace period of a termination in progress."""
        return max(0.0, self._stop_deadline - time.monotonic())

    async def pause(self, seconds: float) -> bool:
        """Sleeps unless the pod is stopping; returns False when it is."""
        if self.stopping:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), seconds)
        return not self.stopping

    def event(self, type_: str, reason: str, message: str, field_path: str | None = None) -> None:
        """Records an event about this pod (not after it is gone)."""
        if not self.silent:
            self.ctx.event(self.pod, type_=type_, reason=reason, message=message, field_path=field_path)

    @property
    def phase(self) -> str:
        init = [r.status for r in self.init_runners]
        main = [r.status for r in self.main_runners]
        if self._force_terminal:
            return "Failed"
        policy = self.restart_policy
        if self.stopping and not any(s.running for s in init + main):
            # Kubernetes puts pods that are being deleted into a terminal phase once stopped.
            if any(s.terminated is None for s in main):
                return "Failed"
            policy = "Never"
        return pod_phase(policy, init, main)

    @property
    def done(self) -> bool:
        """Whether the pod reached a terminal phase."""
        return self.phase in TERMINAL_PHASES

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Starts running the pod."""
        self._task = asyncio.create_task(self._lifecycle(), name=f"pod {self.namespace}/{self.name}")

    async def _lifecycle(self) -> None:
        deadline = asyncio.create_task(self._watch_deadline(), name=f"deadline {self.name}")
        try:
            await self.publish()
            if self.done or not await self._setup_volumes():
                return
            for runner in self.init_runners:
                if runner.status.succeeded:
                    continue
                await runner.run()
                if not runner.status.succeeded or self.stopping:
                    return
            for runner in self.main_runners:
                if runner.status.state.get("waiting", {}).get("reason") == "PodInitializing":
                    runner.status.waiting("ContainerCreating")
            await self.publish()
            todo = [r for r in self.main_runners if r.status.terminated is None]
            await asyncio.gather(*(r.run() for r in todo))
        except Exception:
            _log.exception("pod %s/%s failed in the kubelet", self.namespace, self.name)
            self._fail("KubeletError", "the kubelet failed while running the pod; see the cluster log")
            # Containers of the other runners may still run: the pod is over, stop them.
            self.stopping = True
            self._stop_deadline = time.monotonic() + self.grace_period()
            self._stop_event.set()
            runners = self.init_runners + self.main_runners
            await asyncio.gather(*(r.stop(self.remaining_grace()) for r in runners), return_exceptions=True)
        finally:
            deadline.cancel()
            await asyncio.gather(deadline, return_exceptions=True)
            if not self.stopping:
                await self.publish()
            if self.done and not self.silent:
                await asyncio.to_thread(self._remove_sandboxes)

    async def _setup_volumes(self) -> bool:
        try:
            check_volumes(self.pod)
        except UnsupportedVolume as exc:
            self.event("Warning", "FailedMount", str(exc))
            self._fail("UnsupportedVolume", str(exc))
            return False
        backoff = BACKOFF_INITIAL
        while not self.stopping:
            try:
                self.volumes = dict(
                    await prepare_volumes(
                        self.pod, self.pod_dir / "volumes", RefReader(self.ctx.core, self.namespace)
                    )
                )
                return True
            except (MountFailure, ConfigError) as exc:
                self.event("Warning", "FailedMount", str(exc))
            if not await self.pause(backoff):
                return False
            backoff = min(backoff * 2, BACKOFF_MAX)
        return False

    def _fail(self, reason: str, message: str) -> None:
        self._reason, self._message, self._force_terminal = reason, message, True
        for runner in self.init_runners + self.main_runners:
            if runner.status.terminated is None and not runner.status.running:
                runner.status.waiting(
                    runner.status.state.get("waiting", {}).get("reason") or "ContainerCreating"
                )

    async def _watch_deadline(self) -> None:
        started = _parse_time(self._start_time)
        while True:
            limit = (self.pod.get("spec") or {}).get("activeDeadlineSeconds")
            if isinstance(limit, int) and limit >= 0:
                left = started + limit - time.time()
                if left <= 0:
                    message = "Pod was active on the node longer than the specified deadline"
                    self.event("Warning", "DeadlineExceeded", message)
                    self._deadline_hit = asyncio.create_task(
                        self.terminate(self.grace_period(), reason="DeadlineExceeded", message=message)
                    )
                    return
                await asyncio.sleep(min(left, 1.0))
            else:
                await asyncio.sleep(1.0)

    def update(self, pod: Object) -> None:
        """Takes a newer version of the pod object; starts termination when it is being deleted."""
        if _version(pod) < _version(self.pod):
            return
        self.pod = pod
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") and self._terminating is None:
            grace = meta.get("deletionGracePeriodSeconds")
            seconds = float(grace) if isinstance(grace, int | float) else self.grace_period()
            self._terminating = asyncio.create_task(self._delete(seconds), name=f"delete {self.name}")

    async def _delete(self, grace: float) -> None:
        await self.terminate(grace)
        if not self.gone:
            with contextlib.suppress(ApiError):
                await self.ctx.core.delete(
                    self.ctx.pods,
                    self.namespace,
                    self.name,
                    grace_period_seconds=0,
                    preconditions={"uid": self.uid},
                )
        self.silent = True

    async def terminate(self, grace: float, *, reason: str | None = None, message: str | None = None) -> None:
        """Stops all containers gracefully and waits for the pod's life cycle to end.

        Args:
            grace: Seconds between SIGTERM and SIGKILL.
            reason: Pod status reason to report (e.g. DeadlineExceeded); the pod then fails.
            message: Pod status message.
        """
        if reason is not None:
            self._reason, self._message, self._force_terminal = reason, message, True
            await self.publish()
        if not self.stopping:
            self.stopping = True
            self._stop_deadline = time.monotonic() + grace
            self._stop_event.set()
        runners = self.init_runners + self.main_runners
        await asyncio.gather(*(r.stop(self.remaining_grace()) for r in runners), return_exceptions=True)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.publish()

    async def shutdown(self, grace: float) -> None:
        """Stops the containers without reporting anything (kubelet stop or pod already gone).

        Args:
            grace: Seconds between SIGTERM and SIGKILL.
        """
        self.silent = True
        await self.terminate(grace)
        if self._terminating is not None:
            self._terminating.cancel()
            await asyncio.gather(self._terminating, return_exceptions=True)

    def _remove_sandboxes(self) -> None:
        for runner in self.init_runners + self.main_runners:
            shutil.rmtree(self.pod_dir / runner.name, ignore_errors=True)
        shutil.rmtree(self.pod_dir / "volumes", ignore_errors=True)

    # -- status ------------------------------------------------------------------------

    def status(self) -> Object:
        """The pod status as it should be stored now."""
        init = [r.status for r in self.init_runners]
        main = [r.status for r in self.main_runners]
        phase = self.phase
        previous = (self._published or {}).get("conditions") or []
        status: Object = {
            "phase": phase,
            "conditions": with_transition_times(pod_conditions(phase, init, main), previous),
            "hostIP": POD_IP,
            "hostIPs": [{"ip": POD_IP}],
            "podIP": POD_IP,
            "podIPs": [{"ip": POD_IP}],
            "startTime": self._start_time,
            "containerStatuses": [s.to_dict() for s in main],
        }
        if init:
            status["initContainerStatuses"] = [s.to_dict() for s in init]
        qos = (self.pod.get("status") or {}).get("qosClass")
        if qos:
            status["qosClass"] = qos
        if self._reason:
            status["reason"] = self._reason
        if self._message:
            status["message"] = self._message
        return status

    async def publish(self) -> None:
        """Writes the status if it changed since the last write."""
        async with self._lock:
            if self.silent or self.gone:
                return
            status = self.status()
            if status == self._published:
                return
            for _ in range(_WRITE_ATTEMPTS):
                body = {**self.pod, "status": status}
                try:
                    self.pod = await self.ctx.core.update(
                        self.ctx.pods, self.namespace, self.name, body, subresource="status"
                    )
                    self._published = status
                    return
                except ApiError as exc:
                    if exc.code == 404:
                        self.gone = True
                        return
                    if exc.code != 409:
                        _log.warning(
                            "status of pod %s/%s not written: %s", self.namespace, self.name, exc.message
                        )
                        return
                if not await self._reread():
                    return

    async def _reread(self) -> bool:
        try:
            fresh = await self.ctx.core.get(self.ctx.pods, self.namespace, self.name)
        except ApiError as exc:
            if exc.code == 404:
                self.gone = True
            return False
        if (fresh.get("metadata") or {}).get("uid") != self.uid:
            self.gone = True
            return False
        self.update(fresh)
        return True


def spec_has_init(pod: Object) -> bool:
    """Whether the pod has init containers."""
    return bool((pod.get("spec") or {}).get("initContainers"))


def _version(pod: Object) -> int:
    try:
        return int((pod.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0
