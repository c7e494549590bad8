"""Streaming the master pod's log of a run to the caller (verbose mode).

The SDK reads the log directly from Kubernetes (`kaptain.runs.kubeconfig`, `kaptain.runs.kubehttp`):
the worker has no part in it and the log never passes through Temporal. The pod followed is the
master of the run's workload, found by the labels every object of a run carries
(``kaptain.io/revision``, ``kaptain.io/action``): for a TFJob or PyTorchJob the pod labelled
``training.kubeflow.org/job-role=master`` (the Chief or the Master), for a Job (other frameworks,
and the Kaniko builder of an image build) its newest pod. When a pod is replaced or its container
restarts, the new one is followed.

Each line is logged at INFO on the ``kaptain-log`` logger with the time the container printed it
(Kubernetes' ``timestamps=true``), so `kaptain.runs.console` prints it in
``KAPTAIN_SDK_LOG_TIMEFORMAT``. As in the original SDK, ``Waiting for Master Node Training Model to
start...`` and ``Master Node Training Model started in pod: <pod>`` (``Image Build`` for builds)
come first.

Without a Kubernetes configuration the SDK says so once per process and streams nothing; a
configuration that cannot be used, or an API server that refuses, is also said once: the run goes
on either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from kaptain.platform.constants import (
    ACTION_LABEL,
    LOGGER_NAME,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    REVISION_LABEL,
)
from kaptain.runs.kubeconfig import KubeAccess, KubeconfigError, load_access
from kaptain.runs.kubehttp import KubeApiError, get_json, stream_lines

__all__ = ["JOB_ROLE_LABEL", "LogTarget", "MasterLogFollower", "master_pod"]

JOB_ROLE_LABEL: Final = "training.kubeflow.org/job-role"
"""The label the training operator puts on the master (TF Chief, PyTorch Master) pod: ``master``."""

_MAIN_CONTAINERS: Final = ("pytorch", "tensorflow", "kaniko")
_TRAINING_KINDS: Final = ("TFJob", "PyTorchJob")
_POLL_SECONDS: Final = 1.0
_MAX_FAILURES: Final = 5
_MAX_RECONNECTS: Final = 5
_UNAUTHORIZED: Final = 401

_log = logging.getLogger(LOGGER_NAME)
_said: set[str] = set()


def _say_once(level: int, message: str) -> None:
    """Log a message the first time this process sees it."""
    if message not in _said:
        _said.add(message)
        _log.log(level, "%s", message)


@dataclass(frozen=True)
class LogTarget:
    """Whose master pod to follow.

    Attributes:
        action: The run's action (``train``, or ``build`` for an image build).
        revision: The run's revision (its objects carry it as a label).
        job_kind: The workload's kind (``PyTorchJob``, ``TFJob``, ``Job``).
    """

    action: str
    revision: str
    job_kind: str

    @property
    def selector(self) -> str:
        """The label selector of the run's pods."""
        return (
            f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{REVISION_LABEL}={self.revision},"
            f"{ACTION_LABEL}={self.action}"
        )

    @property
    def what(self) -> str:
        """How the original SDK called the pod in its messages."""
        return "Image Build" if self.action == "build" else "Master Node Training Model"


def master_pod(pods: list[dict[str, Any]], job_kind: str) -> dict[str, Any] | None:
    """The pod whose log to follow among a run's pods.

    Args:
        pods: The run's pods (Kubernetes objects).
        job_kind: The workload's kind.

    Returns:
        The newest master pod (TFJob/PyTorchJob) or newest pod (Job), or None.
    """
    if job_kind in _TRAINING_KINDS:
        pods = [pod for pod in pods if _labels(pod).get(JOB_ROLE_LABEL) == "master"]
    if not pods:
        return None
    return max(
        pods, key=lambda pod: (pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"])
    )


def _labels(pod: dict[str, Any]) -> dict[str, str]:
    return pod.get("metadata", {}).get("labels") or {}


def _main_container(pod: dict[str, Any]) -> str:
    names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    return next((name for name in names if name in _MAIN_CONTAINERS), names[0] if names else "")


def _container_status(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return dict(status)
    return {}


def _started(pod: dict[str, Any], container: str) -> bool:
    """Whether the container has output to read (it runs or ran)."""
    state = _container_status(pod, container).get("state") or {}
    if "running" in state or "terminated" in state:
        return True
    return (pod.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed")


def _running(pod: dict[str, Any], container: str) -> bool:
    return "running" in (_container_status(pod, container).get("state") or {})


def _instance(pod: dict[str, Any], container: str) -> tuple[str, int]:
    """One run of a container: the pod's uid and the container's restart count."""
    return str(pod["metadata"].get("uid") or pod["metadata"]["name"]), int(
        _container_status(pod, container).get("restartCount") or 0
    )


class MasterLogFollower:
    """Follows the master pod of the run's current workload and logs its lines.

    `follow` says which workload (it changes when a training run moves on from its image build);
    `run` streams until cancelled, or, after `finish`, until the pod being read has nothing more.
    """

    def __init__(self) -> None:
        self._target: LogTarget | None = None
        self._changed = asyncio.Event()
        self._finishing = False
        self._access: KubeAccess | None = None
        self._streamed: set[tuple[str, int]] = set()
        self._announced: set[LogTarget] = set()
        self._failures = 0

    def follow(self, target: LogTarget | None) -> None:
        """Switch to another workload (None: nothing to follow yet)."""
        if target != self._target:
            self._target = target
            self._changed.set()

    def finish(self) -> None:
        """Stop after the log at hand: the run is over, so only what is already printed remains."""
        self._finishing = True
        self._changed.set()

    async def run(self) -> None:
        """Stream until cancelled or finished; problems are logged (once), never raised."""
        self._access = await self._load_access()
        if self._access is None:
            return
        while self._failures < _MAX_FAILURES:
            target = self._target
            try:
                pod = None if target is None else await self._pod(target)
            except KubeApiError as err:
                if not await self._failed(err):
                    return
                continue
            if target is not None and pod is not None:
                container = _main_container(pod)
                instance = _instance(pod, container)
                if instance not in self._streamed and _started(pod, container):
                    await self._stream(target, pod, container, instance)
                    continue
            if self._finishing:
                return
            if target is not None and target not in self._announced:
                self._announced.add(target)
                _log.info("Waiting for %s to start...", target.what)
            await self._wait_for_change(_POLL_SECONDS)
        _say_once(logging.WARNING, "Stopped streaming pod logs after repeated errors from the API server")

    async def _load_access(self) -> KubeAccess | None:
        try:
            access = await asyncio.to_thread(load_access)
        except KubeconfigError as err:
            _say_once(logging.WARNING, f"Pod logs are not streamed: {err}")
            return None
        if access is None:
            _say_once(
                logging.WARNING,
                "No Kubernetes configuration (KUBECONFIG, <KAPTAIN_HOME>/kubeconfig, ~/.kube/config or a "
                "service account): pod logs are not streamed; the run's progress is still shown",
            )
        return access

    async def _failed(self, err: KubeApiError) -> bool:
        """Count a failure; False when streaming should stop."""
        self._failures += 1
        if err.status == _UNAUTHORIZED and self._failures == 1:
            # Tokens of exec plugins expire: read the configuration again once.
            self._access = await self._load_access()
            return self._access is not None
        _say_once(logging.WARNING, f"Cannot stream pod logs: {err}")
        if self._finishing:
            return False
        await self._wait_for_change(_POLL_SECONDS)
        return True

    async def _wait_for_change(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)
        self._changed.clear()

    async def _pod(self, target: LogTarget) -> dict[str, Any] | None:
        assert self._access is not None
        listed = await get_json(self._access, self._pods_path(), {"labelSelector": target.selector})
        pod = master_pod(list(listed.get("items") or []), target.job_kind)
        self._failures = 0
        return pod

    def _pods_path(self) -> str:
        assert self._access is not None
        return f"/api/v1/namespaces/{quote(self._access.namespace, safe='')}/pods"

    async def _stream(
        self, target: LogTarget, pod: dict[str, Any], container: str, instance: tuple[str, int]
    ) -> None:
        """Log one container run to its end (reconnecting while it runs), then mark it done."""
        assert self._access is not None
        name = str(pod["metadata"]["name"])
        _log.info("%s started in pod: %s", target.what, name)
        self._announced.add(target)
        last: datetime | None = None
        path = f"{self._pods_path()}/{quote(name, safe='')}/log"
        query = {"follow": "true", "timestamps": "true", "container": container}
        for _ in range(_MAX_RECONNECTS):
            try:
                async for line in stream_lines(self._access, path, query):
                    stamp, text = _split_timestamp(line)
                    # After a reconnect the log starts over: skip what was already printed.
                    if last is not None and stamp is not None and stamp <= last:
                        continue
                    last = stamp or last
                    _emit(text, stamp, name)
            except KubeApiError as err:
                if err.status == 404:
                    break
                _say_once(logging.WARNING, f"Cannot stream the log of pod {name}: {err}")
            if self._finishing or not await self._still_running(name, container, instance):
                break
        self._streamed.add(instance)

    async def _still_running(self, name: str, container: str, instance: tuple[str, int]) -> bool:
        assert self._access is not None
        try:
            pod = await get_json(self._access, f"{self._pods_path()}/{quote(name, safe='')}")
        except KubeApiError:
            return False
        return _instance(pod, container) == instance and _running(pod, container)


def _split_timestamp(line: bytes) -> tuple[datetime | None, str]:
    """``2024-05-01T12:00:00.123456789Z text`` → (time, text); a line without one is all text."""
    head, sep, rest = line.partition(b" ")
    if sep and head[:1].isdigit():
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(head.decode("ascii")), rest.decode(errors="replace")
    return None, line.decode(errors="replace")


def _emit(text: str, stamp: datetime | None, pod: str) -> None:
    if not _log.isEnabledFor(logging.INFO):
        return
    record = _log.makeRecord(
        _log.name, logging.INFO, __file__, 0, "%s", (text,), None, extra={"kaptain_pod": pod}
    )
    if stamp is not None:
        created = stamp.astimezone(UTC).timestamp()
        record.created = created
        record.msecs = (created - int(created)) * 1000
    _log.handle(record)
