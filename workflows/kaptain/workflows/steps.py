"""Typed calls of the activities from workflow code, with their Temporal options in one place.

Workflows may not import `kaptain.activities` (the contracts must not depend on the side
effects), so activities are called by their registered names from the contract modules, and these
wrappers give the calls their types back.

Options, and why:

* Every call that changes the cluster, or may, uses `WAIT_CANCELLATION_COMPLETED`: when a run is
  cancelled, the workflow only starts deleting what the run created once the activity in flight
  has really stopped. With the default `TRY_CANCEL`, a create still running could add an object
  after the cleanup listed them. (The scheduling watch only reads, and uses `TRY_CANCEL`.)
* Short calls (create, delete, read) get a 30 s start-to-close timeout (one API round trip, with
  room for a slow server) and retry with backoff up to 10 s, except on the permanent error codes
  of `kaptain.workflows.errors`. Their total retry time is capped at 30 minutes, so a cluster that
  stays unreachable fails the run instead of hanging it.
* The steps the caller waits on right before a result (the registry lookup that decides whether
  to build; reading the metrics and deleting the Secrets after the job succeeded) run as *local*
  activities: a local activity runs inside the current workflow task, so the run completes in
  that task instead of after more round trips through the server. They are short, idempotent
  calls, which is what local activities are for.
* The watch may wait for hours, so liveness comes from its heartbeat (10 s timeout: a dead worker
  is noticed within seconds, and the retry resumes from the last resourceVersion it heartbeated)
  rather than from its start-to-close timeout, which only bounds it by the run's own deadline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

from kaptain.workflows.errors import NON_RETRYABLE
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
    ObjectStatus,
    Scheduling,
    SchedulingRequest,
    SecretRequest,
    WatchRequest,
)
from kaptain.workflows.registry import FIND_IMAGE, ImageInfo, ImageQuery
from kaptain.workflows.storage import (
    DELETE_PREFIX,
    READ_METRICS,
    Metrics,
    MetricsRequest,
    PrefixRequest,
    PrefixResult,
)

__all__ = [
    "WATCH_HEARTBEAT_TIMEOUT",
    "create_object",
    "create_secret",
    "delete_objects",
    "delete_prefix",
    "delete_run_objects",
    "failure_details",
    "find_image",
    "read_metrics",
    "watch_object",
    "watch_scheduling",
]

SHORT_TIMEOUT = timedelta(seconds=30)
WATCH_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
_MAX_WATCH = timedelta(days=7)

_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=list(NON_RETRYABLE),
)
_T = TypeVar("_T")
_WAIT = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED


async def _short(name: str, arg: object, result_type: type[_T], *, summary: str, local: bool = False) -> _T:
    if local:
        local_result: _T = await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=SHORT_TIMEOUT,
            schedule_to_close_timeout=timedelta(minutes=30),
            retry_policy=_RETRY,
            cancellation_type=_WAIT,
            summary=summary,
        )
        return local_result
    result: _T = await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        start_to_close_timeout=SHORT_TIMEOUT,
        schedule_to_close_timeout=timedelta(minutes=30),
        retry_policy=_RETRY,
        cancellation_type=_WAIT,
        summary=summary,
    )
    return result


async def create_object(request: CreateObjectRequest) -> ObjectStatus:
    """Create an object (idempotently) and return its first status summary."""
    meta = request.manifest.get("metadata", {})
    return await _short(
        CREATE_OBJECT,
        request,
        ObjectStatus,
        summary=f"create {request.manifest.get('kind')}/{meta.get('name')}",
    )


async def create_secret(request: SecretRequest) -> ObjectStatus:
    """Create a Secret from sealed data (idempotently)."""
    return await _short(CREATE_SECRET, request, ObjectStatus, summary=f"create Secret/{request.name}")


async def _watch(
    name: str,
    arg: object,
    result_type: type[_T],
    *,
    budget: timedelta | None,
    cancellation: workflow.ActivityCancellationType,
    summary: str,
) -> _T:
    limit = _MAX_WATCH if budget is None else min(_MAX_WATCH, budget + timedelta(seconds=30))
    result: _T = await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        start_to_close_timeout=limit,
        heartbeat_timeout=WATCH_HEARTBEAT_TIMEOUT,
        retry_policy=_RETRY,
        cancellation_type=cancellation,
        summary=summary,
    )
    return result


async def watch_object(request: WatchRequest, *, budget: timedelta | None) -> ObjectStatus:
    """Wait until the object's status changes in a way that matters.

    Args:
        request: The object and the status the workflow knows.
        budget: Time left in the run (bounds the attempt), or None.
    """
    return await _watch(
        WATCH_OBJECT,
        request,
        ObjectStatus,
        budget=budget,
        cancellation=_WAIT,
        summary=f"watch {request.ref.kind}/{request.ref.name}",
    )


async def watch_scheduling(request: SchedulingRequest, *, budget: timedelta | None) -> Scheduling:
    """Wait until the run's unschedulable pods change (with ``request.known`` None: read them).

    Args:
        request: The run's selector and the pods the workflow knows to be unschedulable.
        budget: Time left in the run (bounds the attempt), or None.
    """
    return await _watch(
        WATCH_SCHEDULING,
        request,
        Scheduling,
        budget=budget,
        # Only reads, so nothing can race the cleanup: the run does not wait for the cancellation
        # to reach the activity (that waits for its next heartbeat, seconds), which would delay
        # every result by as much, since this watch is cancelled whenever the workload finishes.
        cancellation=workflow.ActivityCancellationType.TRY_CANCEL,
        summary="watch scheduling" if request.known is not None else "read scheduling",
    )


async def delete_objects(request: DeleteObjectsRequest, *, local: bool = False) -> DeletedObjects:
    """Delete objects by name (as a local activity when ``local``)."""
    return await _short(
        DELETE_OBJECTS, request, DeletedObjects, summary=f"delete {len(request.refs)} objects", local=local
    )


async def delete_run_objects(request: DeleteRunObjectsRequest) -> DeletedObjects:
    """Delete everything a run created and wait (heartbeating) until it is gone."""
    result: DeletedObjects = await workflow.execute_activity(
        DELETE_RUN_OBJECTS,
        request,
        result_type=DeletedObjects,
        start_to_close_timeout=timedelta(seconds=request.wait_seconds) + SHORT_TIMEOUT,
        schedule_to_close_timeout=timedelta(minutes=30),
        heartbeat_timeout=WATCH_HEARTBEAT_TIMEOUT,
        retry_policy=_RETRY,
        cancellation_type=_WAIT,
        summary="delete the run's objects",
    )
    return result


async def failure_details(request: FailureDetailsRequest) -> FailureDetails:
    """Exit codes and log tails of a run's failed containers."""
    return await _short(FAILURE_DETAILS, request, FailureDetails, summary="read failed pods")


async def find_image(query: ImageQuery) -> ImageInfo:
    """Look an image up in its registry.

    A local activity: for an unchanged model this lookup is the whole build, and running it in
    the workflow's first task lets the run finish in that task (a skipped build in well under the
    300 ms budget).
    """
    return await _short(FIND_IMAGE, query, ImageInfo, summary=f"look up {query.image}", local=True)


async def read_metrics(request: MetricsRequest, *, local: bool = False) -> Metrics:
    """Read the metrics a run recorded (as a local activity when ``local``)."""
    return await _short(READ_METRICS, request, Metrics, summary="read metrics", local=local)


async def delete_prefix(request: PrefixRequest) -> PrefixResult:
    """Delete a stored object or everything under a prefix."""
    return await _short(DELETE_PREFIX, request, PrefixResult, summary=f"delete {request.uri}")
