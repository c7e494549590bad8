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
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.store import Entry, dumps

Object = dict[str, Any]
ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
Matcher = Callable[[Object], bool]


@dataclass(frozen=True)
class WatchArgs:
    """The parameters of a watch request, as `ApiCore.watch` takes them."""

    rt: ResourceType
    namespace: str | None
    resource_version: str | None
    label_selector: str | None
    field_selector: str | None
    allow_bookmarks: bool
    timeout_seconds: float | None


@dataclass(frozen=True)
class StreamOptions:
    """How a subscription is streamed.

    Attributes:
        api_version: Written into each object (objects of a multi-version CRD are stored once).
        kind: The kind, for BOOKMARK objects.
        bookmark_interval: Seconds between BOOKMARK events while idle; None for no bookmarks.
        duration: Seconds after which the stream ends; None for no limit.
    """

    api_version: str
    kind: str
    bookmark_interval: float | None
    duration: float | None


@dataclass(eq=False, slots=True)
class Payload:
    """The object of an event, serialised once and shared by every watcher that sends it.

    `line` caches the complete wire form of a watch event (`{"type":...,"object":...}` and a
    newline) per event type, so a watch served over HTTP costs no JSON work per watcher.
    """

    text: str
    api_version: str
    _lines: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, entry: Entry) -> Payload:
        """The payload of a stored entry (shares its JSON text)."""
        return cls(entry.text, str(entry.obj.get("apiVersion", "")))

    def line(self, event_type: str) -> bytes:
        """The watch event line for `event_type`, built once."""
        cached = self._lines.get(event_type)
        if cached is None:
            cached = f'{{"type":"{event_type}","object":{self.text}}}\n'.encode()
            self._lines[event_type] = cached
        return cached


@dataclass(slots=True)
class Change:
    """One committed write: `entry` is the new state (for DELETED the final state), `prev` the old."""

    type: ChangeType
    entry: Entry
    prev: Entry | None
    payload: Payload = field(init=False, repr=False)
    _prev_payload: Payload | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.payload = Payload.of(self.entry)

    @property
    def rv(self) -> int:
        """The resourceVersion of the change."""
        return self.entry.rv

    def prev_payload_at_rv(self) -> Payload:
        """The previous state with this change's resourceVersion (a DELETED for a selector exit)."""
        if self._prev_payload is None:
            assert self.prev is not None
            obj = json.loads(self.prev.text)
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            self._prev_payload = Payload(dumps(obj), str(obj.get("apiVersion", "")))
        return self._prev_payload


@dataclass(eq=False, slots=True)
class Subscription:
    """One watch's filter and queue of events to send."""

    group: str
    plural: str
    namespace: str | None
    matches: Matcher
    limit: int
    queue: deque[tuple[EventType, Payload]] = field(default_factory=deque)
    waiter: asyncio.Future[None] | None = None
    timer: asyncio.TimerHandle | None = None
    timer_at: float | None = None
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
        item: tuple[EventType, Payload]
        if now and before:
            item = ("MODIFIED", change.payload)
        elif now:
            item = ("ADDED", change.payload)
        elif before:
            # An object leaving the selector looks deleted to this watcher (Kubernetes semantics).
            payload = change.payload if change.type == "DELETED" else change.prev_payload_at_rv()
            item = ("DELETED", payload)
        else:
            return True
        if bounded and len(self.queue) >= self.limit:
            return False
        self.queue.append(item)
        self.wake()
        return True

    def wake(self) -> None:
        """Resumes the stream if it is waiting for events."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def set_timer(self, loop: asyncio.AbstractEventLoop, when: float | None) -> None:
        """Arranges a wake-up at loop time `when` (None: none), keeping a timer already set for it."""
        if when == self.timer_at and (when is None or self.timer is not None):
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = when
        self.timer = None if when is None else loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self.timer_at = None
        self.wake()


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
        self._subs: dict[tuple[str, str], set[Subscription]] = {}

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
    ) -> Subscription:
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
        sub = Subscription(group, plural, namespace, matches, self._queue_limit)
        for entry in snapshot or []:
            sub.queue.append(("ADDED", Payload.of(entry)))
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

    def unsubscribe(self, sub: Subscription) -> None:
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

    def _drop(self, sub: Subscription, *, overflowed: bool) -> None:
        subs = self._subs.get((sub.group, sub.plural))
        if subs is not None:
            subs.discard(sub)
        if overflowed:
            sub.overflowed = True
            sub.queue.clear()
        sub.closed = True
        sub.wake()

    async def stream(self, sub: Subscription, options: StreamOptions) -> AsyncGenerator[WatchEvent, None]:
        """Yields a subscriber's events as objects (each the caller's own copy).

        Args:
            sub: From `subscribe`.
            options: Version, kind, bookmarks and duration of the stream.
        """
        api_version = options.api_version
        events = self._events(sub, options)
        try:
            async for event_type, item in events:
                if isinstance(item, Payload):
                    obj: Object = json.loads(item.text)
                    obj["apiVersion"] = api_version
                    yield {"type": event_type, "object": obj}
                else:
                    yield {"type": event_type, "object": item}
        finally:
            await events.aclose()

    async def stream_encoded(
        self, sub: Subscription, options: StreamOptions
    ) -> AsyncGenerator[tuple[EventType, bytes], None]:
        """Yields a subscriber's events in wire form: (type, `{"type":...,"object":...}` + newline).

        Arguments as for `stream`.
        """
        api_version = options.api_version
        events = self._events(sub, options)
        try:
            async for event_type, item in events:
                if isinstance(item, Payload) and item.api_version == api_version:
                    yield event_type, item.line(event_type)
                    continue
                if isinstance(item, Payload):
                    # A multi-version CRD's object stored by another version: re-encode.
                    obj: Object = json.loads(item.text)
                    obj["apiVersion"] = api_version
                else:
                    obj = item
                yield event_type, (dumps({"type": event_type, "object": obj}) + "\n").encode()
        finally:
            await events.aclose()

    async def _events(
        self, sub: Subscription, options: StreamOptions
    ) -> AsyncGenerator[tuple[EventType, Payload | Object], None]:
        """The event loop of one watch: queued payloads, bookmarks, the 410 of an overflow, the end."""
        bookmark_interval, duration = options.bookmark_interval, options.duration
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        next_bookmark = None if bookmark_interval is None else loop.time() + bookmark_interval
        try:
            while True:
                if sub.queue:
                    yield sub.queue.popleft()
                    continue
                if sub.overflowed:
                    status = ApiError.gone(
                        "the watch fell too far behind and was closed; list again"
                    ).status()
                    yield "ERROR", status
                    return
                if sub.closed:
                    return
                now = loop.time()
                if deadline is not None and now >= deadline:
                    return
                if next_bookmark is not None and now >= next_bookmark:
                    # The queue is empty, so every change up to last_rv has been delivered or filtered.
                    yield "BOOKMARK", _bookmark(options.api_version, options.kind, self._last_rv)
                    next_bookmark = loop.time() + (bookmark_interval or 0.0)
                    continue
                pending = [t for t in (deadline, next_bookmark) if t is not None]
                await self._wait(sub, loop, min(pending) if pending else None)
        finally:
            sub.set_timer(loop, None)
            self.unsubscribe(sub)

    @staticmethod
    async def _wait(sub: Subscription, loop: asyncio.AbstractEventLoop, wake_at: float | None) -> None:
        # A bare future is much cheaper than asyncio.wait_for per wake-up, which matters with a
        # hundred watchers woken for every write; the timer is kept across wake-ups (the deadline
        # and the next bookmark do not move while events flow), so it is not rescheduled per event.
        fut: asyncio.Future[None] = loop.create_future()
        sub.waiter = fut
        sub.set_timer(loop, wake_at)
        try:
            await fut
        finally:
            sub.waiter = None


def _bookmark(api_version: str, kind: str, rv: int) -> Object:
    return {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": str(rv)}}
