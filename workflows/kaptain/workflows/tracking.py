"""Following a workload from workflow code: loop over the watch activity until it is done.

Each watch call returns as soon as the object's status changes in a way that matters, so the
workflow always knows the phase (the `progress` query reads it) and the history records one
activity per change, not per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from kaptain.workflows import steps
from kaptain.workflows.objects import ObjectStatus, WatchRequest
from kaptain.workflows.specs import RunProgress

__all__ = ["remaining", "watch_until_terminal", "with_status"]


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


async def watch_until_terminal(
    status: ObjectStatus, *, deadline: datetime | None, on_change: Callable[[ObjectStatus], None]
) -> ObjectStatus:
    """Watch an object until it finishes or disappears, or the deadline passes.

    Args:
        status: The object's status as created.
        deadline: When to give up, or None.
        on_change: Called with every new status (to update the run's progress).

    Returns:
        The terminal status.

    Raises:
        TimeoutError: The deadline passed first (the watch in flight is cancelled, and awaited).
        asyncio.CancelledError: The run was cancelled (the watch in flight is cancelled, and awaited).
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
    try:
        # A durable timer: it fires at the deadline even if the worker restarts meanwhile.
        await workflow.wait_condition(
            watching.done, timeout=remaining(deadline), timeout_summary="run deadline"
        )
    except BaseException:
        # The deadline passed, or the run is being cancelled: stop the watch and wait until its
        # activity has really stopped (WAIT_CANCELLATION_COMPLETED) before anything is deleted.
        # (`asyncio.wait_for` is not used: it would surface the cancelled activity's ActivityError
        # instead of the timeout.)
        watching.cancel()
        with contextlib.suppress(BaseException):
            await watching
        raise
    return watching.result()
