"""Starting a run and awaiting it: timeouts, cancellation, progress, errors.

* The run's id is ``kaptain/<model id>/<action>/<revision>`` and it carries the search attributes
  ``KaptainModelId``, ``KaptainAction`` and ``KaptainRevision``.
* ``timeout`` is enforced by the workflow itself (it cleans up and reports ``TimedOut``); the
  server's execution timeout is a backstop a few minutes later, and the wait here lasts until the
  run has had time to clean up.
* Cancelling the awaiting task (Ctrl-C in a notebook) cancels the run and waits until it has
  closed, which is after it deleted what it created; then `asyncio.CancelledError` propagates.
  If the caller's process dies instead, the run goes on (it can be re-attached by its id:
  `kaptain.runs.attach`).
* While waiting, `kaptain.runs.observe` shows the run's progress and, when verbose, streams its
  master pod's log.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, Final, TypeVar

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.types import MethodAsyncSingleParam

from kaptain.exceptions import KaptainException
from kaptain.platform.constants import LOGGER_NAME
from kaptain.runs.client import get_client, task_queue
from kaptain.runs.console import setup_console
from kaptain.runs.errors import to_exception
from kaptain.runs.observe import observe
from kaptain.workflows.names import workflow_id
from kaptain.workflows.search_attributes import run_search_attributes

__all__ = ["RunTimedOut", "execute"]

_log = logging.getLogger(LOGGER_NAME)

_I = TypeVar("_I")
_O = TypeVar("_O")

# After its own deadline a run still deletes what it created; this is how long that may take.
CLEANUP_GRACE: Final = timedelta(minutes=2)
# The server closes a run this long after its deadline even if no worker ever picked it up.
SERVER_BACKSTOP: Final = timedelta(minutes=5)


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
        verbose: Stream the master pod's log while waiting, and log the progress where no live
            display shows it (see `kaptain.runs.progress`).

    Returns:
        The workflow's result.

    Raises:
        KaptainException: The run failed (a subclass from `kaptain.runs.errors`).
        RunTimedOut: The run was still going when the wait ended; it was cancelled.
        asyncio.CancelledError: The awaiting task was cancelled; so was the run.
    """
    setup_console()
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
    wait = None if timeout_seconds is None else timeout_seconds + CLEANUP_GRACE.total_seconds()
    async with observe(client, handle, action=action, model_id=model_id, revision=revision, verbose=verbose):
        try:
            return await asyncio.wait_for(handle.result(), timeout=wait)
        except asyncio.CancelledError:
            _log.info("Cancelling run %s and deleting what it created...", run_id)
            await asyncio.shield(_cancel_and_wait(handle))
            raise
        except TimeoutError:
            await asyncio.shield(_cancel_and_wait(handle))
            raise RunTimedOut(
                f"the {action} run {run_id} did not finish within {timeout_seconds} s"
            ) from None
        except WorkflowFailureError as err:
            raise to_exception(err, action=action) from None


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
