"""The Kubernetes activities: idempotent create, watch, delete, failure details.

They work on any conformant cluster (the embedded one included): plain REST through `KubeClient`,
in the namespace the worker was configured with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any, Final, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from kaptain.activities.kubernetes.client import KubeClient, KubeError
from kaptain.activities.kubernetes.errors import api_error
from kaptain.activities.kubernetes.scheduling import watch_scheduling
from kaptain.activities.kubernetes.status import deleted, summarize
from kaptain.workflows.errors import OBJECT_CONFLICT, SECRETS_UNREADABLE
from kaptain.workflows.manifests.secret import secret_manifest
from kaptain.workflows.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE, REVISION_LABEL
from kaptain.workflows.objects import (
    CREATE_OBJECT,
    CREATE_SECRET,
    DELETE_OBJECTS,
    DELETE_RUN_OBJECTS,
    FAILURE_DETAILS,
    WATCH_OBJECT,
    WATCH_SCHEDULING,
    CreateObjectRequest,
    DeletedObjects,
    DeleteObjectsRequest,
    DeleteRunObjectsRequest,
    FailureDetails,
    FailureDetailsRequest,
    ObjectRef,
    ObjectStatus,
    PodFailure,
    Scheduling,
    SchedulingRequest,
    SecretRequest,
    WatchProgress,
    WatchRequest,
)
from kaptain.workflows.sealed import Sealer, UnsealError

__all__ = ["WORKER_SHUTDOWN", "KubernetesActivities"]

WORKER_SHUTDOWN: Final = "WorkerShutdown"
"""Type of the (retried) failure of a watch interrupted by its worker's shutdown."""

Obj = dict[str, Any]
_T = TypeVar("_T")

# The server ends each watch after this long; the activity then re-watches from the last version.
# Short enough that a silently dropped connection is noticed quickly.
_WATCH_SECONDS = 60
_POLL_SECONDS = 0.2
_RECONNECT_SECONDS = 1.0


class KubernetesActivities:
    """Activities over one cluster and namespace.

    Args:
        client: The cluster.
        sealer: Opens the sealed Secret data.
    """

    def __init__(self, client: KubeClient, sealer: Sealer) -> None:
        self._client = client
        self._sealer = sealer

    @property
    def namespace(self) -> str:
        """The namespace the activities work in."""
        return self._client.namespace

    @activity.defn(name=CREATE_OBJECT)
    async def create_object(self, request: CreateObjectRequest) -> ObjectStatus:
        """Create an object; if it exists with this run's revision label, take it as created.

        Raises:
            ApplicationError: ``ObjectConflict`` when an object of that name belongs to someone
                else; ``WorkloadDeploymentFailed`` when the cluster refuses it.
        """
        manifest = request.manifest
        ref = ObjectRef(
            api_version=manifest["apiVersion"], kind=manifest["kind"], name=manifest["metadata"]["name"]
        )
        return summarize(ref, await self._create(ref, manifest))

    @activity.defn(name=CREATE_SECRET)
    async def create_secret(self, request: SecretRequest) -> ObjectStatus:
        """Open the sealed values and create the Secret (idempotently).

        Raises:
            ApplicationError: ``SecretsUnreadable`` when the sealed data cannot be opened with
                this worker's key.
        """
        try:
            data = {key: self._sealer.unseal(value) for key, value in request.data.items()}
            if request.data_from is not None:
                body = json.loads(self._sealer.unseal(request.data_from))
                data.update({str(key): str(value) for key, value in body.items()})
        except UnsealError as err:
            raise ApplicationError(str(err), type=SECRETS_UNREADABLE, non_retryable=True) from None
        data.update(request.plain_data)
        manifest = secret_manifest(
            name=request.name,
            labels=request.labels,
            annotations=request.annotations,
            data=data,
            type=request.type,
        )
        ref = ObjectRef(api_version="v1", kind="Secret", name=request.name)
        created = await self._create(ref, manifest)
        return summarize(ref, {"metadata": created.get("metadata") or {}})

    @activity.defn(name=WATCH_OBJECT)
    async def watch_object(self, request: WatchRequest) -> ObjectStatus:
        """Wait until the object's status differs from ``request.last`` in a way that matters.

        Heartbeats `WatchProgress` (the last resourceVersion seen), so a retried attempt resumes
        the watch where the failed one was; on 410 Gone it re-reads the object and goes on.

        Raises:
            ApplicationError: ``WorkerShutdown`` (retried) when this worker stops: the watch
                resumes at once on another worker instead of holding up the shutdown.
        """
        details = activity.info().heartbeat_details
        # Heartbeat details come back as plain dicts (they are decoded without type hints).
        progress = WatchProgress.model_validate(details[0]) if details else WatchProgress()
        async with _heartbeating(progress) as beat:
            return await _unless_worker_shutdown(self._watch(request, progress.resource_version, beat))

    @activity.defn(name=WATCH_SCHEDULING)
    async def watch_scheduling(self, request: SchedulingRequest) -> Scheduling:
        """Wait until the run's pods that the scheduler cannot place differ from ``request.known``
        (see `kaptain.activities.kubernetes.scheduling`).

        Raises:
            ApplicationError: ``WorkerShutdown`` (retried) when this worker stops.
        """
        # Heartbeats only say the activity is alive: a retried attempt lists the pods again anyway.
        async with _heartbeating(WatchProgress()):
            return await _unless_worker_shutdown(watch_scheduling(self._client, request))

    async def _watch(
        self, request: WatchRequest, version: str | None, beat: Callable[[str], None]
    ) -> ObjectStatus:
        ref, last = request.ref, request.last
        if version is None:
            current = await self._current(ref, last)
            if current.differs_from(last) or not current.exists:
                return current
            version = current.resource_version or "0"
            beat(version)
        while True:
            try:
                async for event in self._client.watch(
                    ref.api_version,
                    ref.kind,
                    resource_version=version,
                    name=ref.name,
                    timeout_seconds=_WATCH_SECONDS,
                ):
                    version = str((event.object.get("metadata") or {}).get("resourceVersion") or version)
                    beat(version)
                    if event.type == "BOOKMARK":
                        continue
                    status = (
                        deleted(ref, last, version)
                        if event.type == "DELETED"
                        else summarize(ref, event.object)
                    )
                    if status.differs_from(last):
                        return status
            except KubeError as err:
                if err.status == 0:
                    # The connection broke: watch again from the same version (still heartbeating).
                    await asyncio.sleep(_RECONNECT_SECONDS)
                    continue
                if err.status != 410:
                    raise api_error(err, ref, "watch") from None
                # The version expired: read the object again and watch from its new version.
                current = await self._current(ref, last)
                if current.differs_from(last) or not current.exists:
                    return current
                version = current.resource_version or "0"
                beat(version)

    @activity.defn(name=DELETE_OBJECTS)
    async def delete_objects(self, request: DeleteObjectsRequest) -> DeletedObjects:
        """Delete objects by name; absent ones count as deleted."""
        results = await asyncio.gather(*(self._delete(ref, request.propagation) for ref in request.refs))
        return DeletedObjects(
            deleted=[
                f"{ref.kind}/{ref.name}" for ref, gone in zip(request.refs, results, strict=True) if gone
            ]
        )

    @activity.defn(name=DELETE_RUN_OBJECTS)
    async def delete_run_objects(self, request: DeleteRunObjectsRequest) -> DeletedObjects:
        """Delete everything with the run's labels, owners first, and wait until it is gone."""
        removed: list[str] = []
        for kind in request.kinds:
            items = await self._list(kind.api_version, kind.kind, request.selector)
            refs = [
                ObjectRef(api_version=kind.api_version, kind=kind.kind, name=item["metadata"]["name"])
                for item in items
            ]
            results = await asyncio.gather(*(self._delete(ref, "Background") for ref in refs))
            removed.extend(f"{ref.kind}/{ref.name}" for ref, gone in zip(refs, results, strict=True) if gone)
        if request.wait_seconds <= 0:
            return DeletedObjects(deleted=removed)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + request.wait_seconds
        remaining = await self._remaining(request)
        while remaining and loop.time() < give_up:
            activity.heartbeat()
            await asyncio.sleep(_POLL_SECONDS)
            remaining = await self._remaining(request)
        return DeletedObjects(deleted=removed, remaining=remaining)

    @activity.defn(name=FAILURE_DETAILS)
    async def failure_details(self, request: FailureDetailsRequest) -> FailureDetails:
        """Exit codes, reasons and log tails of the failed containers of a run's pods."""
        pods = sorted(
            await self._list("v1", "Pod", request.selector), key=lambda p: str(p["metadata"]["name"])
        )
        failures: list[PodFailure] = []
        for pod in pods:
            name = str(pod["metadata"]["name"])
            status = pod.get("status") or {}
            found = False
            for container in status.get("containerStatuses") or []:
                state = container.get("state") or {}
                terminated = state.get("terminated") or (container.get("lastState") or {}).get("terminated")
                if not terminated or int(terminated.get("exitCode") or 0) == 0:
                    continue
                found = True
                failures.append(
                    PodFailure(
                        pod=name,
                        container=str(container.get("name")),
                        exit_code=int(terminated.get("exitCode")),
                        reason=str(terminated.get("reason") or ""),
                        log_tail=await self._log_tail(name, str(container.get("name")), request.tail_lines),
                    )
                )
            if not found and status.get("phase") == "Failed":
                failures.append(
                    PodFailure(
                        pod=name,
                        container="",
                        reason=str(status.get("reason") or status.get("message") or ""),
                    )
                )
            if len({f.pod for f in failures}) >= request.max_pods:
                break
        return FailureDetails(failures=failures)

    async def _create(self, ref: ObjectRef, manifest: Obj) -> Obj:
        try:
            return await self._client.create(manifest)
        except KubeError as err:
            if not (err.status == 409 and err.reason == "AlreadyExists"):
                raise api_error(err, ref, "create") from None
        # Created before, by an earlier attempt of this activity or by another run.
        try:
            existing = await self._client.get(ref.api_version, ref.kind, ref.name)
        except KubeError as err:
            raise api_error(err, ref, "read") from None
        labels = (existing.get("metadata") or {}).get("labels") or {}
        wanted = manifest["metadata"].get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE or labels.get(REVISION_LABEL) != wanted.get(
            REVISION_LABEL
        ):
            raise ApplicationError(
                f"{ref.kind} {ref.name} already exists and was not created by this run",
                type=OBJECT_CONFLICT,
                non_retryable=True,
            )
        activity.logger.info("%s %s already exists with this run's labels: adopting it", ref.kind, ref.name)
        return existing

    async def _current(self, ref: ObjectRef, last: ObjectStatus | None) -> ObjectStatus:
        try:
            return summarize(ref, await self._client.get(ref.api_version, ref.kind, ref.name))
        except KubeError as err:
            if err.status == 404:
                return deleted(ref, last, None)
            raise api_error(err, ref, "read") from None

    async def _delete(self, ref: ObjectRef, propagation: str) -> bool:
        try:
            await self._client.delete(ref.api_version, ref.kind, ref.name, propagation=propagation)
        except KubeError as err:
            if err.status == 404:
                return False
            raise api_error(err, ref, "delete") from None
        activity.logger.info("Deleted %s %s", ref.kind, ref.name)
        return True

    async def _list(self, api_version: str, kind: str, selector: str) -> list[Obj]:
        try:
            listed = await self._client.list_objects(api_version, kind, label_selector=selector)
        except KubeError as err:
            if err.status == 404:
                # The cluster does not serve this kind, so there is nothing of it to find.
                return []
            raise api_error(err, ObjectRef(api_version=api_version, kind=kind, name="*"), "list") from None
        items: list[Obj] = listed.get("items") or []
        return items

    async def _remaining(self, request: DeleteRunObjectsRequest) -> list[str]:
        left: list[str] = []
        for kind in request.kinds:
            left.extend(
                f"{kind.kind}/{item['metadata']['name']}"
                for item in await self._list(kind.api_version, kind.kind, request.selector)
            )
        return left

    async def _log_tail(self, pod: str, container: str, lines: int) -> str:
        try:
            return await self._client.pod_log(pod, container=container, tail_lines=lines)
        except KubeError as err:
            return f"(log unavailable: {err.status} {err.reason})"


async def _unless_worker_shutdown(watch: Coroutine[Any, Any, _T]) -> _T:
    """Run a long watch, but give it up when the worker shuts down.

    Raises:
        ApplicationError: ``WorkerShutdown`` (retried): the watch then resumes at once on another
            worker instead of holding up the shutdown.
    """
    watching = asyncio.create_task(watch)
    shutdown = asyncio.create_task(activity.wait_for_worker_shutdown())
    try:
        await asyncio.wait({watching, shutdown}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (watching, shutdown):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if watching.done() and not watching.cancelled():
        return watching.result()
    # BENIGN: an expected hand-over, logged at DEBUG rather than as a failure.
    raise ApplicationError(
        "the worker is shutting down: the watch resumes on another worker",
        type=WORKER_SHUTDOWN,
        category=ApplicationErrorCategory.BENIGN,
    )


@contextlib.asynccontextmanager
async def _heartbeating(progress: WatchProgress) -> AsyncIterator[Callable[[str], None]]:
    """Heartbeat the latest progress now and then, also while the watch is quiet.

    Yields a function that records a new resourceVersion (and heartbeats it: the SDK throttles
    the actual sends to the server, keeping the latest details).
    """
    state = {"progress": progress}
    timeout = activity.info().heartbeat_timeout or timedelta(seconds=30)
    interval = max(timeout.total_seconds() / 3, 0.5)

    def beat(version: str) -> None:
        state["progress"] = WatchProgress(resource_version=version)
        activity.heartbeat(state["progress"].model_dump())

    async def keep_beating() -> None:
        while True:
            activity.heartbeat(state["progress"].model_dump())
            await asyncio.sleep(interval)

    task = asyncio.create_task(keep_beating())
    try:
        yield beat
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
