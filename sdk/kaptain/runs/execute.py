"""Starting a run and awaiting it: timeouts, cancellation, progress, errors.

* The run's id is ``kaptain/<model id>/<action>/<revision>`` and it carries the search attributes
  ``KaptainModelId``, ``KaptainAction`` and ``KaptainRevision``.
* ``timeout`` is enforced by the workflow itself (it cleans up and reports ``TimedOut``); the
  server's execution timeout is a backstop a few minutes later, and the wait here lasts until the
  run has had time to clean up.
* Cancelling the awaiting task (Ctrl-C in a notebook) cancels the run and waits until it has
  closed, which is after it deleted what it created; then `asyncio.CancelledError` propagates.
  If the caller's process dies instead, the run goes on (it can be re-attached by its id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any, Final, TypeVar

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.types import MethodAsyncSingleParam

from kaptain.exceptions import KaptainException
from kaptain.platform.constants import LOGGER_NAME
from kaptain.runs.client import get_client, task_queue
from kaptain.runs.errors import to_exception
from kaptain.workflows.names import workflow_id
from kaptain.workflows.search_attributes import run_search_attributes
from kaptain.workflows.specs import RunProgress

__all__ = ["RunTimedOut", "execute"]

_log = logging.getLogger(LOGGER_NAME)

_I = TypeVar("_I")
_O = TypeVar("_O")

# After its own deadline a run still deletes what it created; this is how long that may take.
CLEANUP_GRACE: Final = timedelta(minutes=2)
# The server closes a run this long after its deadline even if no worker ever picked it up.
SERVER_BACKSTOP: Final = timedelta(minutes=5)
_PROGRESS_INTERVAL: Final = 1.0


class RunTimedOut(KaptainException):
    """The run did not finish within its timeout (and was cancelled)."""


async def execute(
    run: MethodAsyncSingleParam[Any, _I, _O],
    arg: _I,
    *,
    action: str,
    model_id: str,
    revision: str,
    timeout_seconds: float | None,
    verbose: bool = False,
) -> _O:
    """Start a run and return its result.

    Args:
        run: The workflow's run method, e.g. ``TrainWorkflow.run``.
        arg: Its input.
        action: ``build``, ``train``, ...
        model_id: The model's id.
        revision: The run's revision.
        timeout_seconds: Seconds the run may take, or None for no bound.
        verbose: Log the run's progress (phase changes, pods) while waiting.

    Returns:
        The workflow's result.

    Raises:
        KaptainException: The run failed (a subclass from `kaptain.runs.errors`).
        RunTimedOut: The run was still going when the wait ended; it was cancelled.
        asyncio.CancelledError: The awaiting task was cancelled; so was the run.
    """
    client = await get_client()
    run_id = workflow_id(model_id, action, revision)
    handle: WorkflowHandle[Any, _O] = await client.start_workflow(
        run,
        arg,
        id=run_id,
        task_queue=task_queue(),
        execution_timeout=None
        if timeout_seconds is None
        else timedelta(seconds=timeout_seconds) + SERVER_BACKSTOP,
        search_attributes=run_search_attributes(model_id=model_id, action=action, revision=revision),
        static_summary=f"{action} {model_id}",
    )
    _log.debug("Started run %s", run_id)
    reporter = asyncio.create_task(_report_progress(handle)) if verbose else None
    wait = None if timeout_seconds is None else timeout_seconds + CLEANUP_GRACE.total_seconds()
    try:
        return await asyncio.wait_for(handle.result(), timeout=wait)
    except asyncio.CancelledError:
        _log.info("Cancelling run %s and deleting what it created...", run_id)
        await asyncio.shield(_cancel_and_wait(handle))
        raise
    except TimeoutError:
        await asyncio.shield(_cancel_and_wait(handle))
        raise RunTimedOut(f"the {action} run {run_id} did not finish within {timeout_seconds} s") from None
    except WorkflowFailureError as err:
        raise to_exception(err, action=action) from None
    finally:
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter


async def _cancel_and_wait(handle: WorkflowHandle[object, object]) -> None:
    """Cancel a run and wait until it has closed (its cleanup done), within the cleanup grace."""
    try:
        await handle.cancel()
        await asyncio.wait_for(handle.result(), timeout=CLEANUP_GRACE.total_seconds())
    except WorkflowFailureError as err:
        if not isinstance(err.cause, TemporalCancelledError):
            _log.warning("Run %s ended with an error while being cancelled: %s", handle.id, err.cause)
    except TimeoutError:
        _log.warning("Run %s has not finished its cleanup yet; it goes on in the background", handle.id)
    else:
        _log.debug("Run %s finished before the cancellation reached it", handle.id)


async def _report_progress(handle: WorkflowHandle[object, object]) -> None:
    """Log the run's phase and pod counts whenever they change."""
    last: tuple[object, ...] | None = None
    while True:
        await asyncio.sleep(_PROGRESS_INTERVAL)
        try:
            progress = await handle.query("progress", result_type=RunProgress)
        except Exception as err:  # a query fails while no worker holds the run; try again later
            _log.debug("Progress of %s unavailable: %s", handle.id, err)
            continue
        key = (progress.phase, progress.pods_running, progress.pods_succeeded, progress.pods_failed)
        if key != last:
            last = key
            job = f" {progress.job_kind} {progress.job_name}" if progress.job_name else ""
            _log.info(
                "%s%s: running %d, succeeded %d, failed %d (%.0f s)",
                progress.phase,
                job,
                progress.pods_running,
                progress.pods_succeeded,
                progress.pods_failed,
                progress.elapsed_seconds,
            )
