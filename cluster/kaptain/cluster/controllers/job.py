"""The batch/v1 Job controller, following kube-controller-manager's `syncJob` (Kubernetes >= 1.31).

What it does per Job:
- keeps `min(parallelism, completions - succeeded)` pods active (NonIndexed), or one pod per
  pending completion index (Indexed, with the `batch.kubernetes.io/job-completion-index`
  annotation and label and the `JOB_COMPLETION_INDEX` env); without `completions` it runs
  `parallelism` pods until one succeeds (work-queue Jobs);
- replaces failed pods after kube's exponential pod failure backoff;
- fails the Job (`FailureTarget`, then `Failed` once no pod is terminating) when failed pods exceed
  `backoffLimit` (with `restartPolicy: OnFailure`, when the container restarts of running pods
  reach it) or when `activeDeadlineSeconds` passed since `startTime`, deleting its active pods;
- completes it (`SuccessCriteriaMet`, then `Complete` and `completionTime`) when enough pods
  succeeded and none is active;
- suspends (deletes active pods, `Suspended` condition) and resumes (resets `startTime`);
- deletes the finished Job `ttlSecondsAfterFinished` after its terminal condition, with
  propagationPolicy Background so its pods go too.

Counting differs from kube in one documented way: kube keeps a finalizer on every pod to count
terminated pods exactly once even when they are deleted; here the counts are derived from the
pods that exist and never decrease, which is exact as long as nobody but the Job's own deletion
removes terminated pods.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.apiserver.selectors import label_selector_from_spec
from kaptain.cluster.controllers import job_status as js
from kaptain.cluster.controllers import pods as podutil
from kaptain.cluster.controllers.base import (
    Controller,
    delete_ignoring_missing,
    newly_true,
    resolve,
    write_status,
)
from kaptain.cluster.controllers.events import NORMAL, WARNING
from kaptain.cluster.controllers.job_pods import (
    completion_index,
    format_indexes,
    new_pod,
    pending_indexes,
)
from kaptain.cluster.controllers.objects import (
    Key,
    format_time,
    is_controlled_by,
    is_deleting,
    now,
    parse_time,
    seconds_since,
    uid_of,
)

log = logging.getLogger(__name__)

JOBS = ("batch", "v1", "jobs")
PODS = ("", "v1", "pods")
# kube's MaxPodCreateDeletePerSync: bounds the work of one reconcile.
MAX_POD_CHANGES_PER_SYNC = 500
_PHASE_RANK = {podutil.PENDING: 0, "Unknown": 1, podutil.RUNNING: 2}


class JobController(Controller):
    """Reconciles batch/v1 Jobs into pods.

    Args:
        core: The API core.
        pod_failure_backoff: Delay before replacing the first failed pod, in seconds (kube: 10).
        max_pod_failure_backoff: Cap of that delay, in seconds (kube: 360).
        workers: Concurrent reconciles.
    """

    def __init__(
        self,
        core: ApiCore,
        *,
        pod_failure_backoff: float = js.DEFAULT_POD_FAILURE_BACKOFF,
        max_pod_failure_backoff: float = js.MAX_POD_FAILURE_BACKOFF,
        workers: int = 2,
    ) -> None:
        super().__init__(core, JOBS, [PODS], workers=workers, name="job-controller")
        self._backoff = pod_failure_backoff
        self._max_backoff = max_pod_failure_backoff

    async def reconcile(self, key: Key) -> float | None:
        """Syncs one Job; see the module docstring.

        Args:
            key: The Job's namespace/name.

        Returns:
            Seconds until the next deadline or TTL expiry, or None.

        Raises:
            ApiError: A write failed (retried by the queue).
        """
        jobs = self.primary
        try:
            job = await self.core.get(jobs, key.namespace, key.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        if is_deleting(job):
            return None
        if js.is_finished(job.get("status") or {}):
            return await self._expire(job)
        return await self._sync(job)

    # -- finished Jobs -------------------------------------------------------------------

    async def _expire(self, job: Object) -> float | None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        finished = js.finished_at(job.get("status") or {})
        if ttl is None or finished is None:
            return None
        remaining = (finished - dt.datetime.now(dt.UTC)).total_seconds() + int(ttl)
        if remaining > 0:
            return remaining
        meta = job["metadata"]
        await delete_ignoring_missing(
            self.core, self.primary, meta.get("namespace"), str(meta["name"]), propagation_policy="Background"
        )
        return None

    # -- the sync ------------------------------------------------------------------------

    async def _pods_of(self, job: Object) -> list[Object]:
        selector = label_selector_from_spec((job.get("spec") or {}).get("selector"))
        if selector.nothing:
            return []
        items, _ = await self.core.list(
            resolve(self.core, PODS), job["metadata"].get("namespace"), label_selector=str(selector) or None
        )
        uid = uid_of(job)
        return [p for p in items if is_controlled_by(p, uid)]

    async def _sync(self, job: Object) -> float | None:
        spec = job.get("spec") or {}
        old_status = job.get("status") or {}
        status: dict[str, Any] = copy.deepcopy(old_status)
        when = now()
        pods = await self._pods_of(job)
        suspended = bool(spec.get("suspend"))
        completions = _completions(spec)
        backoff_limit = int(spec.get("backoffLimit", js.DEFAULT_BACKOFF_LIMIT))
        indexed = spec.get("completionMode") == "Indexed" and completions is not None

        active_pods = [p for p in pods if podutil.is_active(p)]
        terminating = sum(1 for p in pods if podutil.is_terminating(p))
        ready = sum(1 for p in active_pods if podutil.is_ready(p))
        done_indexes = _succeeded_indexes(pods, completions) if indexed else set()
        succeeded_now = (
            len(done_indexes) if indexed else sum(1 for p in pods if podutil.phase(p) == "Succeeded")
        )
        failed_now = sum(1 for p in pods if podutil.phase(p) == podutil.FAILED)
        succeeded = max(int(status.get("succeeded") or 0), succeeded_now)
        failed = max(int(status.get("failed") or 0), failed_now)
        if not status.get("startTime") and not suspended:
            status["startTime"] = format_time(when)

        requeue: float | None = None
        target = _pending_terminal(status)
        if target is None:
            elapsed = seconds_since(status.get("startTime"))
            deadline = spec.get("activeDeadlineSeconds")
            if failed > backoff_limit or js.past_backoff_limit_on_failure(spec, pods, backoff_limit):
                target = (js.FAILURE_TARGET, js.REASON_BACKOFF_LIMIT, js.MESSAGE_BACKOFF_LIMIT)
            elif deadline is not None and not suspended and elapsed is not None and elapsed >= int(deadline):
                target = (js.FAILURE_TARGET, js.REASON_DEADLINE, js.MESSAGE_DEADLINE)
            elif deadline is not None and not suspended and elapsed is not None:
                requeue = int(deadline) - elapsed

        active = len(active_pods)
        if target is not None and target[0] == js.FAILURE_TARGET:
            deleted = await self._delete_pods(job, active_pods)
            active -= deleted
            terminating += deleted
            ready = 0 if deleted == len(active_pods) else ready
            # kube counts every pod that had not terminated when the Job failed as failed.
            failed = max(failed, failed_now + sum(1 for p in pods if not podutil.is_terminal(p)))
        elif target is None:
            active, wait = await self._manage(
                job,
                pods,
                active_pods=active_pods,
                succeeded=succeeded,
                done_indexes=done_indexes,
                suspended=suspended,
            )
            requeue = _earliest(requeue, wait)
            if _complete(completions, succeeded, active):
                target = (js.SUCCESS_CRITERIA_MET, js.REASON_COMPLETIONS, js.MESSAGE_COMPLETIONS)
            elif suspended:
                js.ensure_condition(status, js.SUSPENDED, "True", "JobSuspended", "Job suspended", when=when)
            elif js.ensure_condition(status, js.SUSPENDED, "False", "JobResumed", "Job resumed", when=when):
                # activeDeadlineSeconds counts from the resume, as kube resets startTime.
                status["startTime"] = format_time(when)

        status.update(
            active=active,
            ready=ready,
            terminating=terminating,
            succeeded=succeeded,
            failed=failed,
            uncountedTerminatedPods=status.get("uncountedTerminatedPods") or {},
        )
        if indexed:
            status["completedIndexes"] = format_indexes(done_indexes)
        if target is not None:
            _record_finish(status, target, terminating, when)
        await write_status(self.core, self.primary, job, status)
        self._record_transitions(job, old_status, status)
        if js.is_finished(status):
            ttl = spec.get("ttlSecondsAfterFinished")
            return float(ttl) if ttl is not None else None
        return requeue

    async def _manage(
        self,
        job: Object,
        pods: list[Object],
        *,
        active_pods: list[Object],
        succeeded: int,
        done_indexes: set[int],
        suspended: bool,
    ) -> tuple[int, float | None]:
        """Creates or deletes pods towards the wanted number; returns (active, retry-after)."""
        spec = job.get("spec") or {}
        active = len(active_pods)
        if suspended:
            return active - await self._delete_pods(job, _removal_order(active_pods)), None
        completions = _completions(spec)
        parallelism = int(spec.get("parallelism") or 0) if spec.get("parallelism") is not None else 1
        if completions is None:
            want = active if succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - succeeded, parallelism))
        indexed = spec.get("completionMode") == "Indexed" and completions is not None
        if indexed:
            extra = _surplus_indexed(active_pods, completions or 0, done_indexes)
            if extra:
                return active - await self._delete_pods(job, extra[:MAX_POD_CHANGES_PER_SYNC]), None
        if active > want:
            victims = _removal_order(active_pods)[: min(active - want, MAX_POD_CHANGES_PER_SYNC)]
            return active - await self._delete_pods(job, victims), None
        terminating = sum(1 for p in pods if podutil.is_terminating(p))
        # podReplacementPolicy Failed waits for terminating pods; the default replaces them at once.
        busy = terminating if spec.get("podReplacementPolicy") == "Failed" else 0
        missing = min(want - active - busy, MAX_POD_CHANGES_PER_SYNC)
        if missing <= 0:
            return active, None
        wait = js.failure_backoff_remaining(pods, now(), base=self._backoff, cap=self._max_backoff)
        if wait > 0:
            return active, wait
        indexes: list[int | None]
        if indexed:
            taken = {i for i in (completion_index(p) for p in active_pods) if i is not None}
            indexes = list(pending_indexes(completions or 0, done_indexes, taken, missing))
        else:
            indexes = [None] * missing
        pods_rt = resolve(self.core, PODS)
        namespace = job["metadata"].get("namespace")
        for index in indexes:
            created = await self.core.create(pods_rt, namespace, new_pod(job, self.primary, index))
            self.events.record(job, NORMAL, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return active + len(indexes), None

    def _record_transitions(self, job: Object, old: Object, new: Object) -> None:
        """Events kube's Job controller records when a Job finishes, is suspended or resumed."""
        if newly_true(old, new, js.COMPLETE) is not None:
            self.events.record(job, NORMAL, "Completed", "Job completed")
        failed = newly_true(old, new, js.FAILED)
        if failed is not None:
            self.events.record(job, WARNING, str(failed.get("reason")), str(failed.get("message")))
        if newly_true(old, new, js.SUSPENDED) is not None:
            self.events.record(job, NORMAL, "Suspended", "Job suspended")
        before = js.find_condition(old, js.SUSPENDED)
        after = js.find_condition(new, js.SUSPENDED)
        if (
            before is not None
            and before.get("status") == "True"
            and after is not None
            and after.get("status") == "False"
        ):
            self.events.record(job, NORMAL, "Resumed", "Job resumed")

    async def _delete_pods(self, job: Object, victims: list[Object]) -> int:
        pods_rt = resolve(self.core, PODS)
        deleted = 0
        for pod in victims:
            meta = pod["metadata"]
            if await delete_ignoring_missing(self.core, pods_rt, meta.get("namespace"), str(meta["name"])):
                deleted += 1
                self.events.record(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta['name']}")
        return deleted


def _completions(spec: Object) -> int | None:
    completions = spec.get("completions")
    if completions is None and spec.get("parallelism") is None:
        # kube defaults both to 1 when neither is given; a lone parallelism means a work queue.
        return 1
    return int(completions) if completions is not None else None


def _complete(completions: int | None, succeeded: int, active: int) -> bool:
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= completions and active == 0


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _pending_terminal(status: Object) -> tuple[str, str, str] | None:
    """An interim condition from an earlier sync whose terminal condition is still to be added."""
    for kind in (js.SUCCESS_CRITERIA_MET, js.FAILURE_TARGET):
        cond = js.find_condition(status, kind)
        if cond is not None and cond.get("status") == "True":
            return kind, str(cond.get("reason") or ""), str(cond.get("message") or "")
    return None


def _record_finish(status: Object, target: tuple[str, str, str], terminating: int, when: dt.datetime) -> None:
    """Adds the interim condition, and the terminal one once no pod is terminating."""
    kind, reason, message = target
    js.ensure_condition(status, kind, "True", reason, message, when=when)
    if terminating > 0:
        return
    terminal = js.COMPLETE if kind == js.SUCCESS_CRITERIA_MET else js.FAILED
    js.ensure_condition(status, terminal, "True", reason, message, when=when)
    if terminal == js.COMPLETE:
        status["completionTime"] = format_time(when)


def _succeeded_indexes(pods: list[Object], completions: int | None) -> set[int]:
    out: set[int] = set()
    for pod in pods:
        index = completion_index(pod)
        if podutil.phase(pod) == podutil.SUCCEEDED and index is not None and index < (completions or 0):
            out.add(index)
    return out


def _surplus_indexed(active_pods: list[Object], completions: int, done: set[int]) -> list[Object]:
    """Active pods of an Indexed Job that must go: bad or finished index, or a duplicate."""
    seen: set[int] = set()
    extra: list[Object] = []
    for pod in sorted(active_pods, key=_creation_key):
        index = completion_index(pod)
        if index is None or index >= completions or index in done or index in seen:
            extra.append(pod)
        else:
            seen.add(index)
    return extra


def _creation_key(pod: Object) -> float:
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    return created.timestamp() if created is not None else 0.0


def _removal_order(pods: list[Object]) -> list[Object]:
    """Pods in the order kube removes them: unscheduled, pending, not ready, restarted, newest first."""

    def rank(pod: Object) -> tuple[int, int, int, int, float]:
        return (
            1 if (pod.get("spec") or {}).get("nodeName") else 0,
            _PHASE_RANK.get(podutil.phase(pod), 1),
            1 if podutil.is_ready(pod) else 0,
            -podutil.restart_count(pod),
            -_creation_key(pod),
        )

    return sorted(pods, key=rank)
