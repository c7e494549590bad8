"""Getting back to runs: list a model's runs and await any of them, e.g. after the caller's process died.

A run outlives the process that started it (it is a Temporal workflow). Its id is
``kaptain/<model id>/<action>/<revision>`` and it carries the search attributes
``KaptainModelId``, ``KaptainAction`` and ``KaptainRevision``, so Temporal's visibility API finds
it::

    runs = await kaptain.runs.list_runs("dev/mnist")          # newest first
    ok = await kaptain.runs.attach(runs[0].run_id)            # True/False, like train() or build()
    ok = await model.attach(runs[0].run_id)                   # and the model takes the result

Awaiting a run re-attached this way behaves like the call that started it: the same progress
display and (verbose) pod log, the same log lines, True or False as the call would have returned,
and the same exceptions for failed runs (`ImageBuildException`, ...). One difference:
interrupting the wait (Ctrl-C, task cancel) only stops waiting; the run goes on, since whoever
started it may still want it. ``temporal workflow cancel --workflow-id <run id>`` stops it (and
the run then deletes what it created).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from kaptain import envs
from kaptain.exceptions import KaptainException
from kaptain.platform.constants import LOGGER_NAME
from kaptain.runs.client import get_client
from kaptain.runs.console import setup_console
from kaptain.runs.errors import error_type, to_exception
from kaptain.runs.observe import observe
from kaptain.runs.progress import format_elapsed
from kaptain.workflows.build import BuildWorkflow
from kaptain.workflows.errors import TIMEOUT
from kaptain.workflows.search_attributes import (
    KAPTAIN_ACTION,
    KAPTAIN_MODEL_ID,
    KAPTAIN_OUTCOME,
    KAPTAIN_REVISION,
)
from kaptain.workflows.specs import BuildResult, TrainResult
from kaptain.workflows.train import TrainWorkflow

__all__ = ["RunInfo", "RunNotFound", "RunOutcome", "attach", "await_run", "get_run", "list_runs"]

_log = logging.getLogger(LOGGER_NAME)

_STATUS: Final = {
    WorkflowExecutionStatus.RUNNING: "Running",
    WorkflowExecutionStatus.COMPLETED: "Completed",
    WorkflowExecutionStatus.FAILED: "Failed",
    WorkflowExecutionStatus.CANCELED: "Cancelled",
    WorkflowExecutionStatus.TERMINATED: "Terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "ContinuedAsNew",
    WorkflowExecutionStatus.TIMED_OUT: "TimedOut",
}
_WORKFLOWS: Final[dict[str, Any]] = {"build": BuildWorkflow.run, "train": TrainWorkflow.run}
DEFAULT_LIMIT: Final = 100


class RunNotFound(KaptainException, LookupError):
    """No Kaptain run has this id (or Temporal no longer keeps it: closed runs expire after the
    namespace's retention period)."""


@dataclass(frozen=True)
class RunInfo:
    """One run, as Temporal's visibility lists it.

    Attributes:
        run_id: The run's id, ``kaptain/<model id>/<action>/<revision>``.
        model_id: The model's id.
        action: ``build``, ``train``, ...
        revision: The run's revision (32 hex digits).
        status: Temporal's status of the run: ``Running``, ``Completed`` (the run finished; see
            ``outcome`` for how), ``Failed``, ``Cancelled``, ``Terminated`` or ``TimedOut``.
        started: When it started (UTC).
        closed: When it closed (UTC), or None while it runs.
        parent_run_id: The run that started it (a training run's image build), or None.
        outcome: For a completed run, how it ended by its own account: ``Succeeded``, ``Failed``
            (the training code failed), ``TimedOut`` or ``Skipped`` (a build of an unchanged
            model); None otherwise.
    """

    run_id: str
    model_id: str
    action: str
    revision: str
    status: str
    started: datetime
    closed: datetime | None = None
    parent_run_id: str | None = None
    outcome: str | None = None

    @property
    def running(self) -> bool:
        """Whether the run is still going."""
        return self.status == "Running"

    @property
    def verdict(self) -> str:
        """The one word a listing shows: the outcome of a completed run, else its status."""
        if self.status == "Completed" and self.outcome:
            return self.outcome
        return self.status

    def duration(self, now: datetime | None = None) -> timedelta:
        """How long it ran, or has been running until ``now`` (default: the current time)."""
        end = self.closed or now or datetime.now(UTC)
        return max(timedelta(0), end - self.started)


@dataclass(frozen=True)
class RunOutcome:
    """What awaiting a run gave.

    Attributes:
        run_id: The run's id.
        action: Its action.
        revision: Its revision.
        succeeded: What the original call returns (True: image published, model trained).
        reason: Why it ended so (empty on plain success).
        result: The workflow's result (`BuildResult`, `TrainResult`), or None when the run ended
            without one (a build that timed out).
    """

    run_id: str
    action: str
    revision: str
    succeeded: bool
    reason: str = ""
    result: BuildResult | TrainResult | None = None


async def list_runs(
    model_id: str | None = None,
    *,
    action: str | None = None,
    running_only: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> list[RunInfo]:
    """List Kaptain runs, newest first, running and finished.

    Args:
        model_id: Only this model's runs (default: every model's).
        action: Only runs of this action (``build``, ``train``).
        running_only: Only runs still going.
        limit: At most this many runs.

    Returns:
        The runs, newest first.

    Raises:
        ValueError: ``limit`` is not positive.
        RuntimeError: Temporal cannot be reached.
        RPCError: Temporal refused the listing.
    """
    if limit <= 0:
        raise ValueError(f"limit must be positive (got {limit})")
    setup_console()
    client = await get_client()
    clauses = [
        f"{KAPTAIN_MODEL_ID.name} = {_quoted(model_id)}"
        if model_id is not None
        else f"{KAPTAIN_MODEL_ID.name} IS NOT NULL"
    ]
    if action is not None:
        clauses.append(f"{KAPTAIN_ACTION.name} = {_quoted(action)}")
    if running_only:
        clauses.append("ExecutionStatus = 'Running'")
    # No ORDER BY: SQL visibility stores (the dev server's among them) refuse it; they list running
    # runs first, then by close time, newest first, which suits `limit`.
    query = " AND ".join(clauses)
    try:
        runs = [
            info
            async for execution in client.list_workflows(query, limit=limit)
            if (info := _info(execution)) is not None
        ]
    except RPCError as err:
        # A namespace no Kaptain worker has connected to lacks the attributes, so has no runs.
        if err.status == RPCStatusCode.INVALID_ARGUMENT and "invalid search attribute" in err.message:
            return []
        raise
    return sorted(runs, key=lambda run: run.started, reverse=True)[:limit]


async def get_run(run_id: str) -> RunInfo:
    """Describe one run.

    Args:
        run_id: The run's id.

    Returns:
        Its current state.

    Raises:
        RunNotFound: No Kaptain run has this id.
    """
    setup_console()
    client = await get_client()
    return await _describe(client, run_id)


async def await_run(run_id: str, *, verbose: bool | None = None) -> RunOutcome:
    """Await a run (running or finished) and return its outcome, showing its progress meanwhile.

    Args:
        run_id: The run's id (see `list_runs`).
        verbose: Stream the master pod's log (default: ``KAPTAIN_SDK_VERBOSE``).

    Returns:
        The outcome; a training run whose code failed, or a build that timed out, is an outcome
        with ``succeeded=False`` (the reason is logged), as for the original call.

    Raises:
        RunNotFound: No Kaptain run has this id.
        ImageBuildException: The image build failed.
        WorkloadDeploymentError: The cluster refused the workload.
        KaptainException: The run failed otherwise, or was cancelled or terminated.
    """
    setup_console()
    client = await get_client()
    info = await _describe(client, run_id)
    run = _WORKFLOWS.get(info.action)
    if run is None:
        raise KaptainException(f"runs of action {info.action!r} cannot be awaited by this SDK ({run_id})")
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle_for(run, run_id)
    if info.running:
        _log.info("Attached to run %s (running for %s)", run_id, _short(info.duration()))
    verbose = envs.VERBOSE if verbose is None else verbose
    async with observe(
        client, handle, action=info.action, model_id=info.model_id, revision=info.revision, verbose=verbose
    ):
        try:
            result = await handle.result()
        except WorkflowFailureError as err:
            failure = to_exception(err, action=info.action)
            if info.action == "build" and error_type(err) == TIMEOUT:
                _log.error("Image build failed: %s", failure)
                return RunOutcome(run_id, "build", info.revision, succeeded=False, reason=str(failure))
            raise failure from None
    return _outcome(info, result)


async def attach(run_id: str, *, verbose: bool | None = None) -> bool:
    """Await a run and return what the call that started it returns.

    Args:
        run_id: The run's id (see `list_runs`).
        verbose: Stream the master pod's log (default: ``KAPTAIN_SDK_VERBOSE``).

    Returns:
        True if the run succeeded, otherwise False (the reason is logged).

    Raises:
        RunNotFound: No Kaptain run has this id.
        KaptainException: The run failed (see `await_run`).
    """
    return (await await_run(run_id, verbose=verbose)).succeeded


def _outcome(info: RunInfo, result: BuildResult | TrainResult) -> RunOutcome:
    """Log the result as the original call did, and say whether it succeeded."""
    if isinstance(result, BuildResult):
        if result.skipped:
            _log.info(
                "Skipping image build for the model - the image '%s' with the same contents has already "
                "been published to the registry.",
                result.image,
            )
        else:
            _log.info("Image build completed successfully. Image pushed: %s", result.image)
        return RunOutcome(info.run_id, info.action, info.revision, succeeded=True, result=result)
    if result.status != "Succeeded":
        _log.error(
            "Model training failed (%s %s: %s): %s",
            result.job_kind,
            result.job_name,
            result.status,
            result.reason,
        )
        return RunOutcome(
            info.run_id, info.action, info.revision, succeeded=False, reason=result.reason, result=result
        )
    if result.metrics:
        _log.info("Training metrics: %s", ", ".join(f"{k}={v}" for k, v in result.metrics.items()))
    _log.info("Model training is completed. Trained model: %s", result.model_uri)
    return RunOutcome(
        info.run_id, info.action, info.revision, succeeded=True, reason=result.reason, result=result
    )


async def _describe(client: Client, run_id: str) -> RunInfo:
    try:
        description = await client.get_workflow_handle(run_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise RunNotFound(
                f"no run {run_id!r} (closed runs are kept for the namespace's retention)"
            ) from None
        raise
    info = _info(description)
    if info is None:
        raise RunNotFound(f"{run_id!r} is not a Kaptain run (it has no {KAPTAIN_MODEL_ID.name})")
    return info


def _info(execution: Any) -> RunInfo | None:
    """A `RunInfo` from a listed or described execution; None for workflows that are not runs."""
    attributes = execution.typed_search_attributes
    model_id = attributes.get(KAPTAIN_MODEL_ID)
    action = attributes.get(KAPTAIN_ACTION)
    revision = attributes.get(KAPTAIN_REVISION)
    if not model_id or not action or not revision:
        return None
    status = execution.status
    return RunInfo(
        run_id=execution.id,
        model_id=model_id,
        action=action,
        revision=revision,
        status=_STATUS.get(status, "Unknown") if status is not None else "Unknown",
        started=execution.start_time,
        closed=execution.close_time,
        parent_run_id=execution.parent_id,
        outcome=attributes.get(KAPTAIN_OUTCOME),
    )


def _quoted(value: str) -> str:
    """A visibility-query string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _short(duration: timedelta) -> str:
    return format_elapsed(duration.total_seconds())
