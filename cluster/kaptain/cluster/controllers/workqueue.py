"""A de-duplicating, rate-limited work queue of object keys, as client-go's `workqueue`.

A key is in the queue at most once however often it is added; a key being processed is never
handed to a second worker, and if it is added again meanwhile it is queued once processing is done.
Failed keys come back after an exponential per-key backoff; `add_after` schedules a key for later
(TTLs, deadlines) and keeps only the earliest due time.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """Keys waiting to be reconciled.

    Args:
        base_delay: First retry delay of `add_rate_limited`, in seconds.
        max_delay: Cap of the retry delay, in seconds.
    """

    def __init__(self, *, base_delay: float = 0.05, max_delay: float = 30.0) -> None:
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._ready: collections.deque[K] = collections.deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._wakeup = asyncio.Event()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._ready)

    @property
    def shutting_down(self) -> bool:
        """Whether `shutdown` was called."""
        return self._shutdown

    def add(self, key: K) -> None:
        """Queues `key` now unless it is already waiting.

        Args:
            key: The key to reconcile.
        """
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._wakeup.set()

    def add_after(self, key: K, delay: float) -> None:
        """Queues `key` after `delay` seconds; an earlier pending schedule of the same key wins.

        Args:
            key: The key to reconcile.
            delay: Seconds from now; zero or less queues at once.
        """
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def add_rate_limited(self, key: K) -> None:
        """Queues `key` after its next backoff delay (doubling on each failure since `forget`).

        Args:
            key: The key whose reconcile failed.
        """
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, self.backoff_delay(failures))

    def backoff_delay(self, failures: int) -> float:
        """The delay after `failures` earlier failures.

        Args:
            failures: Failures since the key was last forgotten.

        Returns:
            Seconds to wait.
        """
        # Cap the exponent so the power cannot overflow for keys failing for a very long time.
        return float(min(self._max_delay, self._base_delay * (2 ** min(failures, 32))))

    def num_requeues(self, key: K) -> int:
        """How many times `key` was rate-limited since it was last forgotten."""
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        """Resets the backoff of `key` after a successful reconcile."""
        self._failures.pop(key, None)

    async def get(self) -> K | None:
        """Waits for the next key and marks it as processing.

        Returns:
            The key, or None once the queue is shut down.
        """
        while not self._ready:
            if self._shutdown:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._shutdown:
            return None
        key = self._ready.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """Marks `key` as processed; queues it again if it was added while processing.

        Args:
            key: A key returned by `get`.
        """
        self._processing.discard(key)
        if key in self._dirty and not self._shutdown:
            self._ready.append(key)
            self._wakeup.set()

    def shutdown(self) -> None:
        """Stops handing out keys and cancels pending timers; waiting `get` calls return None."""
        self._shutdown = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._ready.clear()
        self._dirty.clear()
        self._wakeup.set()

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)
