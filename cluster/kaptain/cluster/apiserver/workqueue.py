"""A de-duplicating work queue drained by one background task, for the server's own controllers.

Work is queued synchronously from the commit path (which must not await) and handled in order by
one task, so a controller never races with itself. A task queued again while still waiting is
handled once. A 409 Conflict means the object changed under the handler: the task is retried
shortly, against the new state. A 404 means the object is gone: nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from kaptain.cluster.apiserver.errors import ApiError

_log = logging.getLogger(__name__)

T = TypeVar("T", bound=Hashable)

CONFLICT_RETRY_DELAY = 0.05
MAX_CONFLICT_RETRIES = 50


class WorkQueue(Generic[T]):
    """Runs `handler` for each queued task, one at a time.

    Args:
        name: Task name, for logs.
        handler: Coroutine function handling one task.
    """

    def __init__(self, name: str, handler: Callable[[T], Awaitable[None]]) -> None:
        self._name = name
        self._handler = handler
        self._queue: dict[T, None] = {}
        self._retries: dict[T, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    def add(self, task: T) -> None:
        """Queues a task (no-op when it is already queued)."""
        self._queue[task] = None
        self._wake.set()

    def idle(self) -> bool:
        """Whether nothing is queued or running."""
        return not self._queue and not self._busy

    def start(self) -> None:
        """Starts the worker task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Cancels the worker (idempotent); queued tasks stay for the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            task = next(iter(self._queue))
            del self._queue[task]
            self._busy = True
            try:
                await self._handler(task)
                self._retries.pop(task, None)
            except ApiError as exc:
                self._failed(task, exc)
            except Exception:
                _log.exception("%s: %r failed", self._name, task)
            finally:
                self._busy = False

    def _failed(self, task: T, exc: ApiError) -> None:
        if exc.code == 404:
            return
        if exc.code != 409:
            _log.warning("%s: %r failed: %s", self._name, task, exc.message)
            return
        retries = self._retries.get(task, 0) + 1
        if retries > MAX_CONFLICT_RETRIES:
            _log.warning("%s: %r kept conflicting; giving up", self._name, task)
            self._retries.pop(task, None)
            return
        self._retries[task] = retries
        asyncio.get_running_loop().call_later(CONFLICT_RETRY_DELAY, self.add, task)
