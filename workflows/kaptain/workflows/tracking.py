"""Following a workload from workflow code: loop over the watch activity until it is done.

Each watch call returns as soon as the object's status changes in a way that matters, so the
workflow always knows the phase (the `progress` query reads it) and the history records one
activity per change, not per poll.

Alongside, the run's pods are watched for the scheduler's verdict: a pod that no node can take
(``PodScheduled`` False, ``Unschedulable``) is reported at once in the progress, and fails the run
with ``WorkloadDeploymentFailed`` once it has stayed so for the schedule timeout, unless a cluster
autoscaler is adding a node for it. The workload's own status never says so: a Kubeflow job just
stays Created.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from kaptain.workflows import steps
from kaptain.workflows.errors import WORKLOAD_DEPLOYMENT_FAILED
from kaptain.workflows.objects import ObjectStatus, Scheduling, SchedulingRequest, WatchRequest
from kaptain.workflows.specs import RunProgress

__all__ = ["SchedulingGuard", "remaining", "watch_until_terminal", "with_scheduling", "with_status"]

# A durable timer of zero would mean "no timeout": the shortest wait is one second.
_SHORTEST_WAIT = timedelta(seconds=1)


@dataclass(frozen=True)
class SchedulingGuard:
    """Which pods to watch for scheduling failures, and what to do about them.

    Attributes:
        selector: The run's label selector.
        timeout: How long a pod may stay unschedulable before the run fails; zero only reports.
        on_change: Called with every new verdict (to update the run's progress).
    """

    selector: str
    timeout: timedelta
    on_change: Callable[[Scheduling], None]


def remaining(deadline: datetime | None) -> timedelta | None:
    """Time left until ``deadline`` (never negative), or None without a deadline."""
    if deadline is None:
        return None
    return max(deadline - workflow.now(), timedelta())


def with_status(progress: RunProgress, status: ObjectStatus) -> RunProgress:
    """The run's progress updated with its workload's latest status.

    Args:
        progress: The progress so far.
        status: The workload's status, as the watch returned it.

    Returns:
        A copy with the phase, pod counts and reason of ``status``.
    """
    return progress.model_copy(
        update={
            "phase": status.phase,
            "pods_ready": status.ready,
            "pods_running": status.active,
            "pods_succeeded": status.succeeded,
            "pods_failed": status.failed,
            "reason": status.message,
        }
    )


def with_scheduling(progress: RunProgress, verdict: Scheduling) -> RunProgress:
    """The run's progress updated with the scheduler's verdict on its pods."""
    return progress.model_copy(update={"unschedulable": verdict.summary()})


async def watch_until_terminal(
    status: ObjectStatus,
    *,
    deadline: datetime | None,
    on_change: Callable[[ObjectStatus], None],
    scheduling: SchedulingGuard | None = None,
) -> ObjectStatus:
    """Watch an object until it finishes or disappears, or the deadline passes.

    Args:
        status: The object's status as created.
        deadline: When to give up, or None.
        on_change: Called with every new status (to update the run's progress).
        scheduling: Also watch the run's pods for scheduling failures (see `SchedulingGuard`).

    Returns:
        The terminal status.

    Raises:
        TimeoutError: The deadline passed first (the watches in flight are cancelled, and awaited).
        asyncio.CancelledError: The run was cancelled (the watches in flight are cancelled, and
            awaited).
        ApplicationError: ``WorkloadDeploymentFailed``: a pod stayed unschedulable too long.
    """

    async def loop() -> ObjectStatus:
        current = status
        on_change(current)
        while not current.terminal:
            current = await steps.watch_object(
                WatchRequest(ref=current.ref, last=current), budget=remaining(deadline)
            )
            on_change(current)
        return current

    watching = asyncio.create_task(loop())
    guarding = asyncio.create_task(_guard(scheduling, deadline)) if scheduling is not None else None
    tasks = [task for task in (watching, guarding) if task is not None]
    try:
        # A durable timer: it fires at the deadline even if the worker restarts meanwhile.
        await workflow.wait_condition(
            lambda: any(task.done() for task in tasks),
            timeout=remaining(deadline),
            timeout_summary="run deadline",
        )
    except BaseException:
        # The deadline passed, or the run is being cancelled: stop the watches and wait until
        # their activities have really stopped (WAIT_CANCELLATION_COMPLETED) before anything is
        # deleted. (`asyncio.wait_for` is not used: it would surface the cancelled activity's
        # ActivityError instead of the timeout.)
        await _stop(tasks)
        raise
    if guarding is not None and guarding.done() and not watching.done():
        # The guard only ends by raising: the workload cannot be scheduled.
        await _stop([watching])
        guarding.result()
    if guarding is not None:
        await _stop([guarding])
    return watching.result()


async def _guard(guard: SchedulingGuard, deadline: datetime | None) -> NoReturn:
    """Follow the run's unschedulable pods; raise once one has stayed so for the timeout.

    Raises:
        ApplicationError: ``WorkloadDeploymentFailed`` (non-retryable), with the scheduler's message.
    """
    known: dict[str, str] = {}
    since: datetime | None = None
    while True:
        within = (
            None
            if since is None or guard.timeout <= timedelta(0)
            else max(since + guard.timeout - workflow.now(), _SHORTEST_WAIT)
        )
        verdict = await _next_verdict(
            SchedulingRequest(selector=guard.selector, known=known), deadline=deadline, within=within
        )
        if verdict is None:
            # The last word before failing the run: read the pods (and events) once more.
            verdict = await steps.watch_scheduling(
                SchedulingRequest(selector=guard.selector), budget=remaining(deadline)
            )
            if verdict.unschedulable and not verdict.scaling_up:
                raise ApplicationError(
                    f"the cluster cannot run the workload: pod {verdict.summary()} "
                    f"(unschedulable for more than {int(guard.timeout.total_seconds())} s)",
                    verdict.model_dump(mode="json"),
                    type=WORKLOAD_DEPLOYMENT_FAILED,
                    non_retryable=True,
                )
            if verdict.scaling_up:
                workflow.logger.info("A cluster autoscaler is adding a node for the run's pods: waiting on")
                since = workflow.now()
        if not verdict.unschedulable:
            since = None
        elif since is None:
            since = workflow.now()
            workflow.logger.warning("The cluster cannot schedule pod %s", verdict.summary())
        known = verdict.unschedulable
        guard.on_change(verdict)


async def _next_verdict(
    request: SchedulingRequest, *, deadline: datetime | None, within: timedelta | None
) -> Scheduling | None:
    """The next change of the run's unschedulable pods, or None when ``within`` passes first."""
    watch = asyncio.create_task(steps.watch_scheduling(request, budget=remaining(deadline)))
    try:
        await workflow.wait_condition(watch.done, timeout=within, timeout_summary="schedule timeout")
    except TimeoutError:
        await _stop([watch])
        return None
    except BaseException:
        # Cancelled (the workload finished, or the run is cancelled): the watch goes too.
        await _stop([watch])
        raise
    return watch.result()


async def _stop(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait until they have ended (their activities included).

    The tasks' own outcomes are dropped; a cancellation of the caller still propagates (awaiting
    each task under ``suppress(BaseException)`` would swallow it, and the caller would go on).
    """
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    if tasks:
        await workflow.wait(tasks)
