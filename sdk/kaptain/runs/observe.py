"""What the caller sees while it awaits a run: the progress display and, when verbose, the master's log.

`observe` wraps the wait for a run's result (a new call, or a re-attached run). Twice a second it
asks the run for its ``progress`` (a Temporal query, answered by the worker from the workflow's
state), and, while a training run builds its image, asks the child build run too. The display
(`kaptain.runs.progress`) shows the answers; the log follower (`kaptain.runs.logs`) is pointed at
the workload of the moment. When the wait ends, the last state is shown and the log gets a moment
to deliver its last lines; nothing started here outlives the block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from temporalio.client import Client, WorkflowHandle

from kaptain.platform.constants import LOGGER_NAME
from kaptain.runs.logs import LogTarget, MasterLogFollower
from kaptain.runs.progress import Display, ProgressSnapshot, choose_display
from kaptain.workflows.specs import RunProgress

__all__ = ["observe"]

# Short phases (a fast image build, Submitting) are missed between two polls; a query is cheap
# (the worker answers it from the workflow it has cached), so twice a second.
_INTERVAL: Final = 0.5
_QUERY_TIMEOUT: Final = timedelta(seconds=5)
# When the run has ended: time for the last progress answer, and for the log's last lines.
_FINAL_QUERY_SECONDS: Final = 3.0
_LOG_GRACE_SECONDS: Final = 3.0
# Phases in which a run has no workload of its own yet.
_BEFORE_WORKLOAD: Final = frozenset({"Starting", "Building"})

_log = logging.getLogger(LOGGER_NAME)


class _Observer:
    """Polls a run's progress (and its image build's) and hands it to the display and the log."""

    def __init__(
        self,
        client: Client,
        handle: WorkflowHandle[Any, Any],
        *,
        action: str,
        model_id: str,
        revision: str,
        display: Display | None,
        follower: MasterLogFollower | None,
    ) -> None:
        self._client = client
        self._handle = handle
        self._action = action
        self._model_id = model_id
        self._revision = revision
        self._display = display
        self._follower = follower
        self._progress: RunProgress | None = None
        self._build: RunProgress | None = None
        self._build_run: tuple[str, str] | None = None  # (workflow id, revision) of the child build
        self._unanswered_since: datetime | None = None
        self.last: ProgressSnapshot | None = None

    async def poll_forever(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(_INTERVAL)

    async def poll(self) -> ProgressSnapshot:
        """Ask the run once and show the answer."""
        now = datetime.now(UTC)
        progress = await self._query(self._handle)
        if progress is None:
            self._unanswered_since = self._unanswered_since or now
        else:
            self._unanswered_since = None
            self._progress = progress
            self._build = await self._child_build_progress() if progress.phase == "Building" else None
        snapshot = ProgressSnapshot(
            run_id=self._handle.id,
            action=self._action,
            model_id=self._model_id,
            progress=self._progress,
            build=self._build,
            unanswered_seconds=0.0
            if self._unanswered_since is None
            else (now - self._unanswered_since).total_seconds(),
            now=now,
        )
        self.last = snapshot
        if self._display is not None:
            self._display.show(snapshot)
        if self._follower is not None:
            self._follower.follow(self._log_target())
        return snapshot

    async def _query(self, handle: WorkflowHandle[Any, Any]) -> RunProgress | None:
        try:
            progress: RunProgress = await handle.query(
                "progress", result_type=RunProgress, rpc_timeout=_QUERY_TIMEOUT
            )
        except Exception as err:  # no worker holds the run right now: the display says so
            _log.debug("Progress of %s unavailable: %s", handle.id, err)
            return None
        return progress

    async def _child_build_progress(self) -> RunProgress | None:
        if self._build_run is None:
            try:
                description = await self._handle.describe(rpc_timeout=_QUERY_TIMEOUT)
            except Exception as err:  # visible again on the next poll
                _log.debug("Cannot describe %s: %s", self._handle.id, err)
                return None
            for child in description.raw_description.pending_children:
                if child.workflow_type_name == "BuildWorkflow":
                    self._build_run = (child.workflow_id, child.workflow_id.rsplit("/", 1)[-1])
                    break
            if self._build_run is None:
                return None
        return await self._query(self._client.get_workflow_handle(self._build_run[0]))

    def _log_target(self) -> LogTarget | None:
        progress = self._progress
        if progress is None:
            return None
        if progress.phase == "Building":
            if self._build_run is None:
                return None
            return LogTarget(action="build", revision=self._build_run[1], job_kind="Job")
        if progress.phase in _BEFORE_WORKLOAD or not progress.job_kind:
            return None
        return LogTarget(action=self._action, revision=self._revision, job_kind=progress.job_kind)


@contextlib.asynccontextmanager
async def observe(
    client: Client,
    handle: WorkflowHandle[Any, Any],
    *,
    action: str,
    model_id: str,
    revision: str,
    verbose: bool,
) -> AsyncIterator[None]:
    """Show the run's progress, and with ``verbose`` its master pod's log, while the block runs.

    Args:
        client: The Temporal client (to reach a training run's image build).
        handle: The run.
        action: Its action.
        model_id: Its model's id.
        revision: Its revision.
        verbose: Stream the master pod's log (and show progress even where no live display fits).
    """
    display = choose_display(verbose=verbose)
    follower = MasterLogFollower() if verbose else None
    if display is None and follower is None:
        yield
        return
    observer = _Observer(
        client,
        handle,
        action=action,
        model_id=model_id,
        revision=revision,
        display=display,
        follower=follower,
    )
    poller = asyncio.create_task(observer.poll_forever())
    streamer = asyncio.create_task(follower.run()) if follower is not None else None
    interrupted = True
    try:
        yield
        interrupted = False
    except Exception:
        interrupted = False
        raise
    finally:
        await _stop(poller)
        final = observer.last
        if not interrupted:
            with contextlib.suppress(TimeoutError):
                final = await asyncio.wait_for(observer.poll(), _FINAL_QUERY_SECONDS)
        if streamer is not None and follower is not None:
            follower.finish()
            if not interrupted:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(streamer), _LOG_GRACE_SECONDS)
            await _stop(streamer)
        if display is not None:
            display.close(final)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
