"""Watch fan-out and the event history that watches resume from.

Every committed write becomes one `Change`, appended to a bounded history (the last N changes of
all kinds) and handed to the subscribers of its resource. Each subscriber filters by namespace and
selectors when the change is published and queues only what it will send, so fan-out to many
watchers costs one filter call per watcher and change. A subscriber whose queue reaches its bound
(a consumer that stopped reading) is dropped and its stream ends with a 410 `ERROR` event, as
Kubernetes does; the client then re-lists.

A watch from resourceVersion R gets exactly the changes with a version greater than R; R must not
be older than the oldest change kept (`floor`), else the watch gets 410 Gone.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import EventType, WatchEvent
from kaptain.cluster.apiserver.store import Entry, dumps

Object = dict[str, Any]
ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
Matcher = Callable[[Object], bool]


@dataclass(slots=True)
class Change:
    """One committed write: `entry` is the new state (for DELETED the final state), `prev` the old."""

    type: ChangeType
    entry: Entry
    prev: Entry | None
    _prev_text: str | None = field(default=None, repr=False)

    @property
    def rv(self) -> int:
        return self.entry.rv

    def prev_text_at_rv(self) -> str:
        """The previous state with this change's resourceVersion (a DELETED for a selector exit)."""
        if self._prev_text is None:
            assert self.prev is not None
            obj = json.loads(self.prev.text)
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            self._prev_text = dumps(obj)
        return self._prev_text


@dataclass(eq=False, slots=True)
class _Subscriber:
    group: str
    plural: str
    namespace: str | None
    matches: Matcher
    limit: int
    queue: deque[tuple[EventType, str]] = field(default_factory=deque)
    waiter: asyncio.Future[None] | None = None
    overflowed: bool = False
    closed: bool = False

    def offer(self, change: Change, *, bounded: bool = True) -> bool:
        """Queues what this subscriber sends for `change`; False when it is over its bound.

        The replay of a resumed watch is not bounded: it is at most the kept history, and the
        consumer has not had a chance to read yet.
        """
        key = change.entry.key
        if self.namespace is not None and key.namespace != self.namespace:
            return True
        now = change.type != "DELETED" and self.matches(change.entry.obj)
        before = change.prev is not None and self.matches(change.prev.obj)
        item: tuple[EventType, str]
        if now and before:
            item = ("MODIFIED", change.entry.text)
        elif now:
            item = ("ADDED", change.entry.text)
        elif before:
            # An object leaving the selector looks deleted to this watcher (Kubernetes semantics).
            text = change.entry.text if change.type == "DELETED" else change.prev_text_at_rv()
            item = ("DELETED", text)
        else:
            return True
        if bounded and len(self.queue) >= self.limit:
            return False
        self.queue.append(item)
        self.wake()
        return True

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class WatchCache:
    """The change history and the live subscribers of all resources.

    Args:
        history_size: How many changes are kept for resuming watches.
        start_rv: The store's resourceVersion at open; watches from older versions get 410.
        queue_limit: Events a subscriber may have queued before it is dropped as too slow.
    """

    def __init__(self, history_size: int, start_rv: int, queue_limit: int) -> None:
        if history_size < 1 or queue_limit < 1:
            raise ValueError("history_size and queue_limit must be positive")
        self._history: deque[Change] = deque(maxlen=history_size)
        self._floor = start_rv
        self._last_rv = start_rv
        self._queue_limit = queue_limit
        self._subs: dict[tuple[str, str], set[_Subscriber]] = {}

    @property
    def floor(self) -> int:
        """All changes with a resourceVersion greater than this are in the history."""
        return self._floor

    @property
    def last_rv(self) -> int:
        """The resourceVersion of the newest published change (or of the store at open)."""
        return self._last_rv

    def publish(self, change: Change) -> None:
        """Records `change` and queues it for every matching subscriber."""
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].rv
        self._history.append(change)
        self._last_rv = change.rv
        subs = self._subs.get((change.entry.key.group, change.entry.key.plural))
        if not subs:
            return
        for sub in list(subs):
            if not sub.offer(change):
                self._drop(sub, overflowed=True)

    def subscribe(
        self,
        group: str,
        plural: str,
        namespace: str | None,
        matches: Matcher,
        *,
        since: int | None,
        snapshot: list[Entry] | None = None,
    ) -> _Subscriber:
        """Registers a subscriber and pre-fills its queue.

        Args:
            group: API group of the watched resource.
            plural: Watched resource.
            namespace: Only this namespace; None for all.
            matches: Label and field selector test on an object.
            since: Replay the kept changes after this resourceVersion; None to replay nothing.
            snapshot: Current objects to send first as ADDED (a watch without resourceVersion).

        Returns:
            The subscriber, to pass to `stream` and `unsubscribe`.

        Raises:
            ApiError: 410 when `since` is older than the kept history.
        """
        if since is not None and since < self._floor:
            raise ApiError.gone(f"too old resource version: {since} ({self._floor})")
        sub = _Subscriber(group, plural, namespace, matches, self._queue_limit)
        for entry in snapshot or []:
            sub.queue.append(("ADDED", entry.text))
        if since is not None:
            replay: list[Change] = []
            for change in reversed(self._history):
                if change.rv <= since:
                    break
                key = change.entry.key
                if key.group == group and key.plural == plural:
                    replay.append(change)
            for change in reversed(replay):
                sub.offer(change, bounded=False)
        # The initial backlog does not count against the bound: the consumer has not read yet.
        sub.limit = self._queue_limit + len(sub.queue)
        self._subs.setdefault((group, plural), set()).add(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        """Removes a subscriber (idempotent)."""
        self._drop(sub, overflowed=False)

    def close_resource(self, group: str, plural: str) -> None:
        """Ends every watch of a resource (its CRD is gone)."""
        for sub in list(self._subs.get((group, plural), ())):
            self._drop(sub, overflowed=False)

    def close_all(self) -> None:
        """Ends every watch (the server is shutting down)."""
        for subs in list(self._subs.values()):
            for sub in list(subs):
                self._drop(sub, overflowed=False)

    def _drop(self, sub: _Subscriber, *, overflowed: bool) -> None:
        subs = self._subs.get((sub.group, sub.plural))
        if subs is not None:
            subs.discard(sub)
        if overflowed:
            sub.overflowed = True
            sub.queue.clear()
        sub.closed = True
        sub.wake()

    async def stream(
        self,
        sub: _Subscriber,
        *,
        api_version: str,
        kind: str,
        bookmark_interval: float | None,
        duration: float | None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Yields a subscriber's events until timeout, close or overflow; unsubscribes at the end.

        Args:
            sub: From `subscribe`.
            api_version: Written into each object (objects of a multi-version CRD are stored once).
            kind: The kind, for BOOKMARK objects.
            bookmark_interval: Seconds between BOOKMARK events while idle; None for no bookmarks.
            duration: Seconds after which the stream ends; None for no limit.
        """
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        next_bookmark = None if bookmark_interval is None else loop.time() + bookmark_interval
        try:
            while True:
                if sub.queue:
                    event_type, text = sub.queue.popleft()
                    obj = json.loads(text)
                    obj["apiVersion"] = api_version
                    yield {"type": event_type, "object": obj}
                    continue
                if sub.overflowed:
                    status = ApiError.gone(
                        "the watch fell too far behind and was closed; list again"
                    ).status()
                    yield {"type": "ERROR", "object": status}
                    return
                if sub.closed:
                    return
                now = loop.time()
                if deadline is not None and now >= deadline:
                    return
                if next_bookmark is not None and now >= next_bookmark:
                    # The queue is empty, so every change up to last_rv has been delivered or filtered.
                    yield {"type": "BOOKMARK", "object": _bookmark(api_version, kind, self._last_rv)}
                    next_bookmark = loop.time() + (bookmark_interval or 0.0)
                    continue
                wake_at = min(t for t in (deadline, next_bookmark, now + 3600.0) if t is not None)
                await self._wait(sub, loop, wake_at)
        finally:
            self.unsubscribe(sub)

    @staticmethod
    async def _wait(sub: _Subscriber, loop: asyncio.AbstractEventLoop, wake_at: float) -> None:
        # A bare future plus a timer handle is much cheaper than asyncio.wait_for per wake-up,
        # which matters with a hundred watchers woken for every write.
        fut: asyncio.Future[None] = loop.create_future()
        sub.waiter = fut
        timer = loop.call_at(wake_at, _resolve, fut)
        try:
            await fut
        finally:
            timer.cancel()
            sub.waiter = None


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _bookmark(api_version: str, kind: str, rv: int) -> Object:
    return {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": str(rv)}}
