"""Streaming a watch to the client as newline-delimited JSON `WatchEvent`s.

As the Kubernetes apiserver does:

- errors found before the stream starts (a malformed selector or resourceVersion) are ordinary
  `Status` responses; a resourceVersion older than the kept history is an HTTP 200 stream holding
  a single `ERROR` event whose object is a 410 `Status` (client-go and kubernetes_asyncio turn it
  into "410 Gone" and re-list);
- `sendInitialEvents=true` (the streaming-list form of client-go's reflector) sends the current
  objects as ADDED, then a BOOKMARK annotated `k8s.io/initial-events-end`, then the changes;
- a client that asked for a Table gets each event's object as a one-row Table, with the column
  definitions in the first event only (kubectl reuses them for later rows).

Plain watches use the core's `watch_encoded` when it has one: each event is serialised once and
the same bytes go to every watcher. Events that pile up while a client is being written to go out
together in one chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, EventType, WatchEvent
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.tables import partial_metadata, table
from kaptain.cluster.apiserver.wire import Rendering, dumps, status_response

Object = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
# Encoded events a watch may hold while its client is slow to read.
_MAX_PENDING = 1000


@dataclass(frozen=True)
class WatchRequest:
    """The parameters of one watch.

    Attributes:
        rt: The watched resource.
        namespace: The namespace, or `None` for all (and for cluster-scoped kinds).
        resource_version: Resume after this version; `None`/"0" to start with the current state.
        label_selector: Label selector text.
        field_selector: Field selector text.
        allow_bookmarks: Whether BOOKMARK events may be sent.
        timeout_seconds: End the stream after this long.
        send_initial_events: Streaming-list mode (see module doc).
        rendering: How objects are rendered (plain, Table or metadata).
        include_object: For Tables: "Object", "Metadata" or "None".
    """

    rt: ResourceType
    namespace: str | None
    resource_version: str | None
    label_selector: str | None
    field_selector: str | None
    allow_bookmarks: bool
    timeout_seconds: float | None
    send_initial_events: bool
    rendering: Rendering
    include_object: str


class WatchHub:
    """What the watches of one server share: event encodings, and the set of open watches.

    `close_all` ends every open watch cleanly (the client sees the stream end and re-watches),
    which a stopping server does first so that it does not wait for watches to time out.
    """

    def __init__(self) -> None:
        self.encodings = EventEncodings()
        self._open: set[_Outbox] = set()

    def close_all(self) -> None:
        """Ends every open watch after what has been queued for it is written."""
        for outbox in list(self._open):
            outbox.close(None)


async def serve_watch(
    request: web.Request, core: ApiCore, watch: WatchRequest, hub: WatchHub
) -> web.StreamResponse:
    """Serves a watch until it times out, the core ends it, the client goes away or the hub closes it.

    Args:
        request: The HTTP request.
        core: The API core.
        watch: What to watch.
        hub: The server's shared watch state.

    Returns:
        The (already finished) streaming response, or a `Status` response for an invalid request.
    """
    encoder = _Encoder(watch, hub.encodings)
    events: AsyncIterator[Any]
    convert: Callable[[Any], bytes]
    if (
        isinstance(core, EncodedWatches)
        and watch.rendering.form == "object"
        and not watch.send_initial_events
    ):
        # The core's fast path: each event is encoded once and the same bytes go to every watcher.
        events, convert = _encoded_changes(core, watch), _wire_bytes
    elif watch.send_initial_events:
        events, convert = _initial_then_changes(core, watch), encoder.encode
    else:
        events, convert = _changes(core, watch, None), encoder.encode
    # Run the watch up to its first wait before answering: that subscribes it (so nothing the
    # client writes after seeing the response headers can be missed) and surfaces request errors.
    first: asyncio.Future[Any] = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    if first.done() and not first.cancelled():
        exc = first.exception()
        if isinstance(exc, ApiError) and exc.code != 410:
            await _aclose(events)
            return status_response(exc)
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    outbox = _Outbox(_MAX_PENDING)
    pump = asyncio.create_task(_pump(first, events, convert, outbox))
    hub._open.add(outbox)
    try:
        await response.prepare(request)
        while (data := await outbox.take()) is not None:
            await response.write(data)
        await response.write_eof()
    except ConnectionResetError:
        # The client went away; the finally block releases the watch.
        pass
    finally:
        hub._open.discard(outbox)
        pump.cancel()
        if not first.done():
            first.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, ApiError):
            await pump
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, ApiError):
            await first
        await _aclose(events)
    return response


async def _pump(
    first: asyncio.Future[Any],
    events: AsyncIterator[Any],
    convert: Callable[[Any], bytes],
    outbox: _Outbox,
) -> None:
    """Moves encoded events from the core's watch into the outbox until the watch ends."""
    error: BaseException | None = None
    try:
        outbox.put(convert(await first))
        async for event in events:
            outbox.put(convert(event))
            if outbox.full:
                await outbox.room()
    except StopAsyncIteration:
        pass
    except ApiError as err:
        outbox.put(dumps({"type": "ERROR", "object": err.status()}) + b"\n")
    except Exception as exc:
        error = exc
    finally:
        outbox.close(error)


class _Outbox:
    """Encoded events waiting to be written, written together when several are ready.

    The pump adds events as the core yields them; the writer takes everything queued at once.
    Under load a watcher's events pile up between two writes and go out in one chunk, one TLS
    record and one system call, instead of one each per event. A writer stuck on a slow client
    makes the pump wait once `limit` events are queued, so the core's own bound on undelivered
    events (which ends a watch that fell behind with 410) still applies.
    """

    def __init__(self, limit: int) -> None:
        self._chunks: list[bytes] = []
        self._limit = limit
        self._ready = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._closed = False
        self._error: BaseException | None = None

    def put(self, data: bytes) -> None:
        self._chunks.append(data)
        self._ready.set()
        if len(self._chunks) >= self._limit:
            self._has_room.clear()

    @property
    def full(self) -> bool:
        return not self._has_room.is_set()

    async def room(self) -> None:
        await self._has_room.wait()

    def close(self, error: BaseException | None) -> None:
        self._closed = True
        self._error = error
        self._ready.set()

    async def take(self) -> bytes | None:
        """Everything queued, joined; `None` once the watch has ended and all was taken."""
        while not self._chunks:
            if self._closed:
                if self._error is not None:
                    raise self._error
                return None
            self._ready.clear()
            await self._ready.wait()
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._has_room.set()
        return data


@runtime_checkable
class EncodedWatches(Protocol):
    """A core that can also yield watch events already encoded (`Core.watch_encoded`)."""

    def watch_encoded(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = False,
        timeout_seconds: float | None = None,
    ) -> AsyncIterator[tuple[EventType, bytes]]: ...


def _wire_bytes(event: tuple[EventType, bytes]) -> bytes:
    return event[1]


def _encoded_changes(core: EncodedWatches, watch: WatchRequest) -> AsyncIterator[tuple[EventType, bytes]]:
    return core.watch_encoded(
        watch.rt,
        watch.namespace,
        resource_version=watch.resource_version,
        label_selector=watch.label_selector,
        field_selector=watch.field_selector,
        allow_bookmarks=watch.allow_bookmarks,
        timeout_seconds=watch.timeout_seconds,
    )


def _changes(core: ApiCore, watch: WatchRequest, resource_version: str | None) -> AsyncIterator[WatchEvent]:
    return core.watch(
        watch.rt,
        watch.namespace,
        resource_version=resource_version if watch.send_initial_events else watch.resource_version,
        label_selector=watch.label_selector,
        field_selector=watch.field_selector,
        allow_bookmarks=watch.allow_bookmarks,
        timeout_seconds=watch.timeout_seconds,
    )


async def _initial_then_changes(core: ApiCore, watch: WatchRequest) -> AsyncGenerator[WatchEvent, None]:
    items, resource_version = await core.list(
        watch.rt, watch.namespace, label_selector=watch.label_selector, field_selector=watch.field_selector
    )
    for item in items:
        yield {"type": "ADDED", "object": item}
    end: Object = {
        "kind": watch.rt.kind,
        "apiVersion": watch.rt.api_version,
        "metadata": {"resourceVersion": resource_version, "annotations": {INITIAL_EVENTS_END: "true"}},
    }
    yield {"type": "BOOKMARK", "object": end}
    stream = _changes(core, watch, resource_version)
    try:
        async for event in stream:
            yield event
    finally:
        await _aclose(stream)


async def _aclose(events: AsyncIterator[Any]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


class EventEncodings:
    """Encoded plain watch events, shared by all the watches of a server.

    With many watchers of one resource, every change is sent to each of them; the event is the
    same bytes for all (the object at one resourceVersion, in one apiVersion), so it is encoded
    once. Keys are (type, apiVersion, uid, resourceVersion): a resourceVersion names one write
    cluster-wide, so equal keys mean equal objects. The cache keeps the latest `size` events.

    Args:
        size: How many encoded events to keep.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._cache: dict[tuple[str, str, str, str], bytes] = {}

    def encode(self, event: WatchEvent) -> bytes:
        """Returns the newline-terminated JSON of a plain watch event.

        Args:
            event: The event.

        Returns:
            The encoded event.
        """
        obj = event["object"]
        meta = obj.get("metadata")
        uid = meta.get("uid") if isinstance(meta, dict) else None
        rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if not isinstance(uid, str) or not isinstance(rv, str) or event["type"] in ("BOOKMARK", "ERROR"):
            return dumps({"type": event["type"], "object": obj}) + b"\n"
        key = (event["type"], str(obj.get("apiVersion", "")), uid, rv)
        data = self._cache.get(key)
        if data is None:
            data = dumps({"type": event["type"], "object": obj}) + b"\n"
            if len(self._cache) >= self._size:
                # Dicts keep insertion order: this drops the oldest entry.
                del self._cache[next(iter(self._cache))]
            self._cache[key] = data
        return data


class _Encoder:
    """Renders events in the form the client asked for."""

    def __init__(self, watch: WatchRequest, shared: EventEncodings) -> None:
        self._watch = watch
        self._shared = shared
        self._columns_sent = False

    def encode(self, event: WatchEvent) -> bytes:
        kind, obj = event["type"], event["object"]
        form = self._watch.rendering.form
        if form != "object" and kind in ("ADDED", "MODIFIED", "DELETED"):
            if form == "table":
                obj = table(
                    self._watch.rt,
                    [obj],
                    resource_version=obj.get("metadata", {}).get("resourceVersion"),
                    include_object=self._watch.include_object,
                    api_version=self._watch.rendering.api_version,
                    with_columns=not self._columns_sent,
                )
                self._columns_sent = True
            else:
                obj = partial_metadata(obj, self._watch.rendering.api_version)
            return dumps({"type": kind, "object": obj}) + b"\n"
        return self._shared.encode(event)
