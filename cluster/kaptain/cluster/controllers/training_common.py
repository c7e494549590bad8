"""The reconcile flow shared by the TFJob and PyTorchJob controllers (`ReconcileJobs`, operator v1.9).

Per job: add `Created`; validate (an invalid job fails with `<Kind>FailedValidation`, the status the
operator defines for what its webhook would have rejected); once finished, clean pods and
services up per `cleanPodPolicy`, move remaining active counts to succeeded on success and delete
the job `ttlSecondsAfterFinished` after `completionTime`; while suspended, delete pods and
services and set `Suspended`; on resume reset `startTime`; fail on `backoffLimit` (container
restarts of running pods plus pod recreations) or `activeDeadlineSeconds`, deleting pods and
services; otherwise create the replicas' services (each with its loopback port) and pods, recreate
failed pods whose restart policy allows it (`Restarting`), fail on a permanent `ExitCode` exit, count
`replicaStatuses` and let the framework apply its success and failure rules.

Deviations from upstream, all deliberate: every replica listens on its own 127.0.0.1 port; pod
recreations also count towards `backoffLimit` (upstream loses them, so an ExitCode replica that
keeps exiting >= 128 would retry forever); `completionTime` is set whenever the job fails;
`lastReconcileTime` is refreshed only when the status changes otherwise (writing it every time
would make each reconcile trigger the next).
"""

from __future__ import annotations

import abc
import collections
import copy
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.controllers import pods as podutil
from kaptain.cluster.controllers import training_conditions as tc
from kaptain.cluster.controllers import training_policy as rp
from kaptain.cluster.controllers import training_replicas as tr
from kaptain.cluster.controllers.base import (
    Controller,
    delete_ignoring_missing,
    newly_true,
    resolve,
    write_status,
)
from kaptain.cluster.controllers.events import NORMAL, WARNING
from kaptain.cluster.controllers.objects import (
    Key,
    format_selector,
    format_time,
    is_controlled_by,
    is_deleting,
    now,
    seconds_since,
    uid_of,
)
from kaptain.cluster.controllers.ports import PortAllocator

log = logging.getLogger(__name__)

PODS = ("", "v1", "pods")
SERVICES = ("", "v1", "services")
# The exit code upstream assumes when the framework container reports none (always retryable).
_NO_EXIT_CODE = 0xBEEF


class TrainingJobController(Controller):
    """Base of the Kubeflow training job controllers; subclasses add the framework rules.

    Args:
        core: The API core.
        ports: Allocator of loopback ports, shared by the training controllers of one cluster.
        workers: Concurrent reconciles.
    """

    framework: tr.Framework

    def __init__(self, core: ApiCore, *, ports: PortAllocator | None = None, workers: int = 2) -> None:
        fw = self.framework
        super().__init__(
            core,
            ("kubeflow.org", "v1", fw.plural),
            [PODS, SERVICES],
            workers=workers,
            name=fw.controller_name,
        )
        self.ports = ports or PortAllocator()
        # Pods whose exit was reported in an event, so each exit is reported once.
        self._exits_reported: collections.OrderedDict[str, None] = collections.OrderedDict()

    # -- framework hooks --------------------------------------------------------------------

    def extra_validation_errors(self, job: Object) -> list[str]:
        """Webhook rules specific to the framework (none by default)."""
        return []

    @abc.abstractmethod
    def is_master_role(self, specs: dict[str, dict[str, Any]], rtype: str, index: int) -> bool:
        """Whether the replica gets the `job-role: master` label."""

    @abc.abstractmethod
    def set_cluster_spec(
        self,
        job: Object,
        specs: dict[str, dict[str, Any]],
        pod: Object,
        *,
        rtype: str,
        index: int,
        ports: dict[str, list[int]],
    ) -> None:
        """Adds the framework's distributed env to a new pod.

        Args:
            job: The job.
            specs: Defaulted replica specs.
            pod: The pod, changed in place.
            rtype: Its replica type.
            index: Its replica index.
            ports: Lower-case replica type -> loopback port of each index.
        """

    @abc.abstractmethod
    def update_job_status(
        self,
        job: Object,
        specs: dict[str, dict[str, Any]],
        status: Object,
        pods: list[Object],
        when: dt.datetime,
    ) -> None:
        """The framework's `UpdateJobStatus`: Running/Succeeded/Failed/Restarting from replicaStatuses."""

    # -- reconcile ----------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> float | None:
        """Reconciles one training job; see the module docstring.

        Args:
            key: The job's namespace/name.

        Returns:
            Seconds until its TTL or deadline, or None.

        Raises:
            ApiError: A read or write failed (retried by the queue).
        """
        try:
            job = await self.core.get(self.primary, key.namespace, key.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        if is_deleting(job):
            return None
        run_policy = (job.get("spec") or {}).get("runPolicy") or {}
        if run_policy.get("managedBy") not in (None, "", tr.MANAGED_BY_US):
            return None
        status: dict[str, Any] = copy.deepcopy(job.get("status") or {})
        status.setdefault("replicaStatuses", {})
        when = now()
        fw = self.framework
        if tc.find(status, tc.CREATED) is None:
            message = f"{fw.kind} {key.name} is created."
            tc.update_condition(
                status, tc.CREATED, "True", tc.reason(fw.kind, tc.REASON_CREATED), message, when=when
            )
        errors = tr.validation_errors(job, fw) + self.extra_validation_errors(job)
        if errors:
            if not tc.is_failed(status):
                status.setdefault("completionTime", format_time(when))
            why = tc.reason(fw.kind, tc.REASON_FAILED_VALIDATION)
            tc.update_condition(status, tc.FAILED, "True", why, "; ".join(errors), when=when)
            await self._write(job, status, when)
            return None
        requeue = await self._sync(job, status, run_policy, when)
        await self._write(job, status, when)
        if tc.is_finished(status) and requeue is not None and requeue <= 0:
            # ttlSecondsAfterFinished passed: the job goes, and with it (Background) its pods.
            if await delete_ignoring_missing(
                self.core, self.primary, key.namespace, key.name, propagation_policy="Background"
            ):
                self.events.record(job, NORMAL, "SuccessfulDeleteJob", f"Deleted job: {key.name}")
            return None
        return requeue

    async def _write(self, job: Object, status: dict[str, Any], when: dt.datetime) -> None:
        old = job.get("status") or {}
        if {**status, "lastReconcileTime": None} == {**old, "lastReconcileTime": None}:
            return
        status["lastReconcileTime"] = format_time(when)
        await write_status(self.core, self.primary, job, status)
        kinds = {tc.RESTARTING: WARNING, tc.SUCCEEDED: NORMAL, tc.FAILED: NORMAL, tc.SUSPENDED: NORMAL}
        for kind, type_ in kinds.items():
            cond = newly_true(old, status, kind)
            if cond is not None:
                self.events.record(job, type_, str(cond.get("reason")), str(cond.get("message")))
        resumed = tc.find(status, tc.SUSPENDED)
        if tc.is_true(old, tc.SUSPENDED) and resumed is not None and resumed.get("status") == "False":
            self.events.record(job, NORMAL, str(resumed.get("reason")), str(resumed.get("message")))

    async def _sync(
        self, job: Object, status: dict[str, Any], run_policy: dict[str, Any], when: dt.datetime
    ) -> float | None:
        fw = self.framework
        name = str(job["metadata"]["name"])
        specs = tr.replica_specs(job, fw)
        pods = await self._owned(PODS, job)
        services = await self._owned(SERVICES, job)
        if tc.is_finished(status):
            await self._clean_finished(job, run_policy, pods)
            if tc.is_succeeded(status):
                for counts in status["replicaStatuses"].values():
                    rp.add_count(counts, "succeeded", int(counts.get("active") or 0))
                    counts.pop("active", None)
            return rp.ttl_remaining(run_policy, status)
        if run_policy.get("suspend"):
            await self._delete_pods_and_services(job, pods)
            for counts in status["replicaStatuses"].values():
                counts.pop("active", None)
            message = f"{fw.kind} {name} is suspended."
            why = tc.reason(fw.kind, tc.REASON_SUSPENDED)
            if tc.is_true(status, tc.RUNNING):
                tc.update_condition(status, tc.RUNNING, "False", why, message, when=when)
            if not tc.is_true(status, tc.SUSPENDED):
                tc.update_condition(status, tc.SUSPENDED, "True", why, message, when=when)
            return None
        if tc.is_true(status, tc.SUSPENDED):
            message = f"{fw.kind} {name} is resumed."
            tc.update_condition(
                status, tc.SUSPENDED, "False", tc.reason(fw.kind, tc.REASON_RESUMED), message, when=when
            )
            status["startTime"] = format_time(when)

        failure = rp.limit_exceeded(name, specs, run_policy, status, pods)
        if failure is not None:
            status.setdefault("completionTime", format_time(when))
            await self._delete_pods_and_services(job, pods)
            tc.update_condition(
                status, tc.FAILED, "True", tc.reason(fw.kind, tc.REASON_FAILED), failure, when=when
            )
            return rp.ttl_remaining(run_policy, status)

        ports = await self._reconcile_services(job, specs, services)
        state = _SyncState(job, specs, status, pods, services, ports, when)
        for rtype in self._ordered(specs):
            await self._reconcile_pods(state, rtype)
        if not status.get("startTime"):
            status["startTime"] = format_time(when)
        self.update_job_status(job, specs, status, pods, when)
        if tc.is_failed(status):
            status.setdefault("completionTime", format_time(when))
        if tc.is_finished(status):
            return rp.ttl_remaining(run_policy, status)
        deadline = run_policy.get("activeDeadlineSeconds")
        elapsed = seconds_since(status.get("startTime"))
        if deadline is not None and elapsed is not None:
            return max(0.0, int(deadline) - elapsed)
        return None

    def _ordered(self, specs: dict[str, dict[str, Any]]) -> list[str]:
        known = [t for t in self.framework.replica_types if t in specs]
        return known + sorted(t for t in specs if t not in known)

    async def _owned(self, ref: tuple[str, str, str], job: Object) -> list[Object]:
        selector = format_selector(tr.job_labels(self.framework, str(job["metadata"]["name"])))
        items, _ = await self.core.list(
            resolve(self.core, ref), job["metadata"].get("namespace"), label_selector=selector
        )
        uid = uid_of(job)
        return [obj for obj in items if is_controlled_by(obj, uid)]

    # -- services and pods --------------------------------------------------------------------

    async def _reconcile_services(
        self, job: Object, specs: dict[str, dict[str, Any]], services: list[Object]
    ) -> dict[str, list[int]]:
        """Creates missing replica services (allocating ports), deletes out-of-range ones.

        Returns:
            Lower-case replica type -> port per index.
        """
        fw = self.framework
        taken = {p for p in (tr.service_port(s, fw) for s in services) if p is not None}
        ports: dict[str, list[int]] = {}
        for rtype, spec in specs.items():
            replicas = int(spec["replicas"])
            mine = {tr.replica_index(s): s for s in services if tr.replica_type_of(s) == rtype.lower()}
            row: list[int] = []
            for index in range(replicas):
                known = tr.service_port(mine[index], fw) if index in mine else None
                row.append(
                    known if known is not None else await self._create_service(job, rtype, index, taken)
                )
            for found, service in mine.items():
                if found is None or found >= replicas:
                    await self._delete_service(job, service)
            ports[rtype.lower()] = row
        return ports

    async def _create_service(self, job: Object, rtype: str, index: int, taken: set[int]) -> int:
        """Creates a replica's Service with a fresh loopback port; returns the port it records."""
        fw = self.framework
        svc_rt = resolve(self.core, SERVICES)
        namespace = job["metadata"].get("namespace")
        port = self.ports.allocate(taken)
        taken.add(port)
        service = tr.new_service(job, self.primary, fw, rtype=rtype, index=index, port=port)
        try:
            await self.core.create(svc_rt, namespace, service)
            self.events.record(
                job, NORMAL, "SuccessfulCreateService", f"Created service: {service['metadata']['name']}"
            )
        except ApiError as exc:
            if exc.code != 409:
                raise
            # Created concurrently: use what is stored so the env matches the Service.
            stored = await self.core.get(svc_rt, namespace, service["metadata"]["name"])
            recorded = tr.service_port(stored, fw)
            return recorded if recorded is not None else port
        return port

    async def _reconcile_pods(self, state: _SyncState, rtype: str) -> None:
        """`ReconcilePods` for one replica type: create, delete out-of-range, restart, count."""
        fw = self.framework
        spec = state.specs[rtype]
        status, when = state.status, state.when
        name = str(state.job["metadata"]["name"])
        replicas = int(spec["replicas"])
        counts: dict[str, Any] = {}
        status["replicaStatuses"][rtype] = counts
        mine = [p for p in state.pods if tr.replica_type_of(p) == rtype.lower()]
        slices: dict[int, list[Object]] = {}
        for pod in mine:
            index = tr.replica_index(pod)
            if index is not None and index >= 0:
                slices.setdefault(index, []).append(pod)
        size = max([replicas, *(i + 1 for i in slices)])
        for index in range(size):
            found = slices.get(index, [])
            if len(found) > 1:
                log.warning("%s %s: too many pods for %s %d", fw.kind, name, rtype, index)
                continue
            if not found:
                if index < replicas:
                    await self._create_pod(state, rtype, index)
                continue
            pod = found[0]
            if index >= replicas:
                await self._delete_pod(state.job, pod)
            policy = spec["restartPolicy"]
            code = podutil.exit_code(pod, fw.container)
            self._report_exit(state.job, pod, code)
            code = _NO_EXIT_CODE if code is None else code
            if podutil.phase(pod) == podutil.FAILED and (
                policy in ("OnFailure", "Always") or (policy == "ExitCode" and code >= 128)
            ):
                # A pod already being deleted (graceful deletion) was restarted by an earlier reconcile.
                if not is_deleting(pod):
                    await self._restart_replica(state.job, pod, state.services)
                message = f"job {name} is restarting because {rtype} replica(s) failed."
                why = tc.reason(fw.kind, tc.REASON_RESTARTING)
                tc.update_condition(status, tc.RESTARTING, "True", why, message, when=when)
            elif podutil.phase(pod) == podutil.FAILED and policy == "ExitCode":
                message = f'job "{name}" is failing because "{rtype}" replica(s) failed.'
                tc.update_condition(
                    status, tc.FAILED, "True", tc.reason(fw.kind, tc.REASON_FAILED), message, when=when
                )
            rp.count_pod(counts, pod)

    async def _create_pod(self, state: _SyncState, rtype: str, index: int) -> None:
        job, specs = state.job, state.specs
        service_name = tr.replica_name(str(job["metadata"]["name"]), rtype, index)
        restarts = next(
            (tr.restarts_of(s) for s in state.services if s["metadata"]["name"] == service_name), 0
        )
        pod = tr.new_pod(
            job,
            self.primary,
            self.framework,
            rtype=rtype,
            index=index,
            spec=specs[rtype],
            master=self.is_master_role(specs, rtype, index),
            port=state.ports[rtype.lower()][index],
            restarts=restarts,
        )
        self.set_cluster_spec(job, specs, pod, rtype=rtype, index=index, ports=state.ports)
        if ((specs[rtype].get("template") or {}).get("spec") or {}).get("restartPolicy"):
            message = "Restart policy in pod template will be overwritten by restart policy in replica spec"
            self.events.record(job, WARNING, "SetPodTemplateRestartPolicy", message)
        try:
            await self.core.create(resolve(self.core, PODS), job["metadata"].get("namespace"), pod)
            self.events.record(job, NORMAL, "SuccessfulCreatePod", f"Created pod: {pod['metadata']['name']}")
        except ApiError as exc:
            # A pod of that name appearing since the list is picked up by the next reconcile.
            if exc.code != 409:
                raise

    def _report_exit(self, job: Object, pod: Object, code: int | None) -> None:
        """The operator's `ExitedWithCode` event, once per terminated pod."""
        uid = str(pod["metadata"].get("uid") or "")
        if code is None or not podutil.is_terminal(pod) or uid in self._exits_reported:
            return
        self._exits_reported[uid] = None
        while len(self._exits_reported) > 4096:
            self._exits_reported.popitem(last=False)
        meta = pod["metadata"]
        message = f"Pod: {meta.get('namespace')}.{meta['name']} exited with code {code}"
        self.events.record(job, NORMAL, "ExitedWithCode", message)

    async def _restart_replica(self, job: Object, pod: Object, services: list[Object]) -> None:
        """Deletes a failed pod to be recreated, recording the recreation on the replica's Service."""
        name = str(pod["metadata"]["name"])
        namespace = pod["metadata"].get("namespace")
        service = next((s for s in services if s["metadata"]["name"] == name), None)
        if service is not None:
            count = str(max(tr.restarts_of(service), tr.restarts_of(pod)) + 1)
            patch = {"metadata": {"annotations": {tr.RESTARTS: count}}}
            try:
                await self.core.patch(
                    resolve(self.core, SERVICES), namespace, name, patch, "application/merge-patch+json"
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise
        await self._delete_pod(job, pod)

    async def _delete_pod(self, job: Object, pod: Object) -> None:
        if is_deleting(pod):
            return
        meta = pod["metadata"]
        pods_rt = resolve(self.core, PODS)
        if await delete_ignoring_missing(self.core, pods_rt, meta.get("namespace"), str(meta["name"])):
            self.events.record(job, NORMAL, "SuccessfulDeletePod", f"Deleted pod: {meta['name']}")

    async def _delete_service(self, job: Object, service: Object) -> None:
        meta = service["metadata"]
        svc_rt = resolve(self.core, SERVICES)
        if await delete_ignoring_missing(self.core, svc_rt, meta.get("namespace"), str(meta["name"])):
            self.events.record(job, NORMAL, "SuccessfulDeleteService", f"Deleted service: {meta['name']}")

    async def _delete_pods_and_services(self, job: Object, pods: list[Object]) -> None:
        """`DeletePodsAndServices`: each pod and its same-named Service (the names are equal)."""
        for pod in pods:
            await self._delete_pod(job, pod)
            await self._delete_service(job, pod)

    async def _clean_finished(self, job: Object, run_policy: dict[str, Any], pods: list[Object]) -> None:
        """`cleanPodPolicy` once finished: None keeps all, Running deletes Running/Pending, All deletes all."""
        policy = run_policy.get("cleanPodPolicy") or "None"
        if policy == "None":
            return
        if policy == "Running":
            pods = [p for p in pods if podutil.phase(p) in (podutil.RUNNING, podutil.PENDING)]
        await self._delete_pods_and_services(job, pods)


@dataclass
class _SyncState:
    """What one reconcile of a training job works on."""

    job: Object
    specs: dict[str, dict[str, Any]]
    status: dict[str, Any]
    pods: list[Object]
    services: list[Object]
    ports: dict[str, list[int]]
    when: dt.datetime
