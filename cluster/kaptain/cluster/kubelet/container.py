"""One container of a pod: image resolution, start, supervision, restarts with back-off.

The runner drives its `ContainerStatus` through the states the kubelet reports: waiting
(ContainerCreating, PodInitializing, ErrImagePull/ImagePullBackOff, CreateContainerConfigError,
CrashLoopBackOff), running, terminated (Completed, Error, OOMKilled, StartError). Memory limits are
enforced by polling the RSS of the container's process tree every `MEMORY_POLL` seconds; cpu
limits are not enforced (processes are not in cgroups).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
import uuid
from typing import TYPE_CHECKING

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.apiserver.quantity import parse_quantity
from kaptain.cluster.images.resolved import ResolvedImage
from kaptain.cluster.kubelet import logs
from kaptain.cluster.kubelet.command import CommandError
from kaptain.cluster.kubelet.launch import Launch, build_launch
from kaptain.cluster.kubelet.probes import Prober, check
from kaptain.cluster.kubelet.procs import ContainerProcess
from kaptain.cluster.kubelet.refs import ConfigError, RefReader
from kaptain.cluster.kubelet.status import ContainerStatus, now_rfc3339

if TYPE_CHECKING:
    from kaptain.cluster.kubelet.pod import PodWorker

_log = logging.getLogger(__name__)

MEMORY_POLL = 0.1
_TREE_POLL = 1.0
# Back-off of restarts and of image pulls: short, because everything is local.
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 10.0
# A container that ran this long starts over with the shortest back-off.
_BACKOFF_RESET = 60.0
_DRAIN_TIMEOUT = 2.0
_MESSAGE_LINES = 80
_MESSAGE_BYTES = 2048


class ContainerRunner:
    """Runs one container of a pod according to the pod's restart policy.

    Args:
        worker: The pod's worker.
        spec: The container spec.
        init: Whether it is an init container.
        status: Its status (restored after a kubelet restart, else fresh).
    """

    def __init__(self, worker: PodWorker, spec: Object, *, init: bool, status: ContainerStatus) -> None:
        self.worker = worker
        self.spec = spec
        self.init = init
        self.status = status
        self.name = str(spec.get("name", ""))
        self.process: ContainerProcess | None = None
        self._launch: Launch | None = None
        self._oom = False
        self._image_backoff = BACKOFF_INITIAL
        self._pump: asyncio.Task[None] | None = None

    @property
    def field_path(self) -> str:
        return f"spec.{'initContainers' if self.init else 'containers'}{{{self.name}}}"

    async def run(self) -> None:
        """Runs (and restarts) the container until the restart policy or a stop says it is done."""
        backoff = BACKOFF_INITIAL
        while not self.worker.stopping:
            started = time.monotonic()
            result = await self._start()
            if result is None:
                return
            if isinstance(result, ContainerProcess):
                code, reason, message = await self._supervise(result)
            else:
                code, reason, message = result
            self._record_exit(code, reason, message)
            await self.worker.publish()
            if self.worker.stopping or not self._should_restart(code):
                return
            if time.monotonic() - started > _BACKOFF_RESET:
                backoff = BACKOFF_INITIAL
            self.restart_pending(backoff)
            await self.worker.publish()
            if not await self.worker.pause(backoff):
                return
            backoff = min(backoff * 2, BACKOFF_MAX)

    def restart_pending(self, backoff: float) -> None:
        """Moves the last termination into `lastState` and waits in CrashLoopBackOff."""
        meta = self.worker.pod.get("metadata") or {}
        self.status.last_state = {"terminated": self.status.state.get("terminated", {})}
        self.status.restart_count += 1
        who = f"container={self.name} pod={meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"
        self.status.waiting("CrashLoopBackOff", f"back-off {backoff:g}s restarting failed {who}")
        self.worker.event("Warning", "BackOff", "Back-off restarting failed container", self.field_path)

    def _should_restart(self, code: int) -> bool:
        policy = self.worker.restart_policy
        if self.init:
            return policy != "Never" and code != 0
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    async def stop(self, grace: float) -> None:
        """Stops the running instance: preStop hook, SIGTERM, SIGKILL after `grace` seconds.

        Args:
            grace: The termination grace period in seconds.
        """
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        deadline = time.monotonic() + grace
        hook = ((self.spec.get("lifecycle") or {}).get("preStop")) or None
        if hook and grace > 0 and not self.worker.silent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._run_hook(hook), timeout=grace)
        self.worker.event("Normal", "Killing", f"Stopping container {self.name}", self.field_path)
        await proc.terminate(max(0.0, deadline - time.monotonic()))

    # -- starting -------------------------------------------------------------------------

    async def _start(self) -> ContainerProcess | tuple[int, str, str] | None:
        image = await self._pull()
        if image is None:
            return None
        launch = await self._configure(image)
        if launch is None:
            return None
        return await self._spawn(launch)

    async def _pull(self) -> ResolvedImage | None:
        reference = str(self.spec.get("image", ""))
        failures = 0
        while not self.worker.stopping:
            image = await asyncio.to_thread(self.worker.ctx.images.resolve, reference)
            if image is not None:
                self._image_backoff = BACKOFF_INITIAL
                self.status.image_id = _image_id(image, reference)
                if failures or self.status.restart_count == 0:
                    self.worker.event(
                        "Normal",
                        "Pulled",
                        f'Container image "{reference}" already present on machine',
                        self.field_path,
                    )
                return image
            failures += 1
            why = f'image "{reference}" not found: it is neither in the embedded registry nor a known base image'
            self.status.waiting("ErrImagePull", why)
            self.worker.event(
                "Warning", "Failed", f'Failed to pull image "{reference}": {why}', self.field_path
            )
            await self.worker.publish()
            self.status.waiting("ImagePullBackOff", f'Back-off pulling image "{reference}"')
            self.worker.event("Normal", "BackOff", f'Back-off pulling image "{reference}"', self.field_path)
            if not await self.worker.pause(min(self._image_backoff / 2, 0.2)):
                return None
            await self.worker.publish()
            if not await self.worker.pause(self._image_backoff):
                return None
            self._image_backoff = min(self._image_backoff * 2, BACKOFF_MAX)
        return None

    async def _configure(self, image: ResolvedImage) -> Launch | None:
        backoff = BACKOFF_INITIAL
        while not self.worker.stopping:
            try:
                launch = await build_launch(
                    pod=self.worker.pod,
                    container=self.spec,
                    image=image,
                    volumes=self.worker.volumes,
                    directory=self.worker.pod_dir / self.name,
                    refs=RefReader(self.worker.ctx.core, self.worker.namespace),
                    service=self.worker.ctx.service,
                    capacity=self.worker.ctx.capacity,
                )
            except ConfigError as exc:
                self.status.waiting("CreateContainerConfigError", str(exc))
                self.worker.event("Warning", "Failed", f"Error: {exc}", self.field_path)
                await self.worker.publish()
                if not await self.worker.pause(backoff):
                    return None
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            except (CommandError, OSError) as exc:
                # Nothing to run, or the rootfs copy failed (disk full...): retried like kube does.
                self.status.waiting("CreateContainerError", str(exc))
                self.worker.event("Warning", "Failed", f"Error: {exc}", self.field_path)
                await self.worker.publish()
                if not await self.worker.pause(backoff):
                    return None
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            self._launch = launch
            return launch
        return None

    async def _spawn(self, launch: Launch) -> ContainerProcess | tuple[int, str, str] | None:
        if self.worker.stopping:
            return None
        pod_dir = self.worker.pod_dir
        current = logs.current_path(pod_dir, self.name)
        if current.exists():
            current.replace(logs.previous_path(pod_dir, self.name))
        state = self.worker.ctx.log_state(self.worker.uid, self.name)
        self.status.container_id = f"kaptain://{uuid.uuid4().hex}"
        self._oom = False
        # Active before the file exists, so that a follower never takes the new file for a finished run.
        state.active = True
        state.runs += 1
        current.touch()
        try:
            proc = await ContainerProcess.spawn(
                launch.argv, env=launch.env, cwd=launch.cwd, registry=self.worker.ctx.groups
            )
        except OSError as exc:
            state.active = False
            state.notify()
            message = (
                f"failed to start container {self.name!r}: exec {launch.argv[0]!r}: {exc.strerror or exc}"
            )
            self.worker.event("Warning", "Failed", f"Error: {message}", self.field_path)
            return 128, "StartError", message
        self.process = proc
        self._pump = asyncio.create_task(logs.pump(proc.stdout, current, state), name=f"log {self.name}")
        state.notify()
        return proc

    # -- supervising ----------------------------------------------------------------------

    async def _supervise(self, proc: ContainerProcess) -> tuple[int, str, str]:
        self.status.state = {"running": {"startedAt": now_rfc3339()}}
        self.status.started = True
        readiness = self.spec.get("readinessProbe") if not self.init else None
        self.status.ready = not readiness and not self.init
        self.worker.event("Normal", "Created", f"Created container {self.name}", self.field_path)
        self.worker.event("Normal", "Started", f"Started container {self.name}", self.field_path)
        helpers = [asyncio.create_task(self._watch_memory(proc), name=f"memory {self.name}")]
        if readiness:
            helpers.append(asyncio.create_task(self._prober(readiness, liveness=False).run()))
        liveness = self.spec.get("livenessProbe") if not self.init else None
        if liveness:
            helpers.append(asyncio.create_task(self._prober(liveness, liveness=True).run()))
        await self.worker.publish()
        if self.worker.stopping:
            await self.stop(self.worker.remaining_grace())
        try:
            code = await proc.wait()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._drain_log(proc)
        if self._oom:
            return 137, "OOMKilled", ""
        reason = "Completed" if code == 0 else "Error"
        message = ""
        if code != 0 and self.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            message = await self._log_tail()
        return code, reason, message

    async def _drain_log(self, proc: ContainerProcess) -> None:
        pump = self._pump
        if pump is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(pump), _DRAIN_TIMEOUT)
        except TimeoutError:
            # Something outside the container's group still holds the pipe; the run is over anyway.
            proc.close_output()
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    def _record_exit(self, code: int, reason: str, message: str) -> None:
        running = self.status.state.get("running") or {}
        term: Object = {
            "exitCode": code,
            "reason": reason,
            "startedAt": running.get("startedAt") or now_rfc3339(),
            "finishedAt": now_rfc3339(),
            "containerID": self.status.container_id,
        }
        if message:
            term["message"] = message
        self.status.state = {"terminated": term}
        # Kubernetes reports a completed init container as ready.
        self.status.ready = self.init and code == 0
        self.status.started = False
        self.process = None

    async def _log_tail(self) -> str:
        path = logs.current_path(self.worker.pod_dir, self.name)
        records, _ = await asyncio.to_thread(logs.tail_records, path, _MESSAGE_LINES)
        text = b"".join(logs.render(r, False) for r in records)
        return text[-_MESSAGE_BYTES:].decode(errors="replace")

    async def _watch_memory(self, proc: ContainerProcess) -> None:
        limit_text = ((self.spec.get("resources") or {}).get("limits") or {}).get("memory")
        limit = math.ceil(parse_quantity(limit_text)) if limit_text is not None else None
        period = MEMORY_POLL if limit is not None else _TREE_POLL
        while proc.returncode is None:
            rss = await asyncio.to_thread(proc.rss)
            if limit is not None and rss > limit:
                self._oom = True
                proc.signal(signal.SIGKILL)
                self.worker.event(
                    "Warning",
                    "OOMKilling",
                    f"Memory limit of {limit_text} exceeded: killed process {proc.pid} of container "
                    f"{self.name} (rss {rss // 1024} kB)",
                    self.field_path,
                )
                return
            await asyncio.sleep(period)

    def _prober(self, probe: Object, *, liveness: bool) -> Prober:
        async def changed(ok: bool) -> None:
            if not liveness:
                self.status.ready = ok
                await self.worker.publish()
                return
            kind = "Liveness"
            self.worker.event("Warning", "Unhealthy", f"{kind} probe failed", self.field_path)
            self.worker.event(
                "Normal",
                "Killing",
                f"Container {self.name} failed liveness probe, will be restarted",
                self.field_path,
            )
            if self.process is not None:
                await self.process.terminate(self.worker.grace_period())

        return Prober(probe, self.spec, self._run_exec, changed, initial=liveness)

    async def _run_exec(self, command: list[str], limit: float) -> int:
        launch = self._launch
        if launch is None:
            raise OSError("container is not configured")
        proc = await ContainerProcess.spawn(
            launch.exec_argv(command), env=launch.env, cwd=launch.cwd, registry=self.worker.ctx.groups
        )
        drain = asyncio.create_task(_discard(proc.stdout))
        try:
            return await asyncio.wait_for(asyncio.shield(proc.wait()), limit)
        except TimeoutError:
            return await proc.terminate(0)
        finally:
            if proc.returncode is None:
                await proc.terminate(0)
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)

    async def _run_hook(self, hook: Object) -> None:
        if hook.get("exec") is not None:
            command = [str(c) for c in hook["exec"].get("command") or []]
            if command:
                with contextlib.suppress(OSError):
                    await self._run_exec(command, self.worker.grace_period())
        elif hook.get("httpGet") is not None:
            await check({"httpGet": hook["httpGet"], "timeoutSeconds": 30}, self.spec, self._run_exec)


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def _image_id(image: ResolvedImage, reference: str) -> str:
    """`imageID` as a runtime reports it: `<repository>@<digest>`, or the reference for base images."""
    if not image.digest:
        return reference
    name = reference.split("@", maxsplit=1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    return f"{name}@{image.digest}"
