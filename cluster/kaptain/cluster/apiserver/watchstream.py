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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, WatchEvent
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.tables import partial_metadata, table
from kaptain.cluster.apiserver.wire import Rendering, dumps, status_response

Object = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


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


async def serve_watch(request: web.Request, core: ApiCore, watch: WatchRequest) -> web.StreamResponse:
    """Serves a watch until it times out, the core ends it or the client goes away.

    Args:
        request: The HTTP request.
        core: The API core.
        watch: What to watch.

    Returns:
        The (already finished) streaming response, or a `Status` response for an invalid request.
    """
    events = _events(core, watch)
    # Run the watch up to its first wait before answering: that subscribes it (so nothing the
    # client writes after seeing the response headers can be missed) and surfaces request errors.
    first: asyncio.Future[WatchEvent] = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    if first.done() and not first.cancelled():
        exc = first.exception()
        if isinstance(exc, ApiError) and exc.code != 410:
            await events.aclose()
            return status_response(exc)
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        encoder = _Encoder(watch)
        try:
            await response.write(encoder.encode(await first))
            async for event in events:
                await response.write(encoder.encode(event))
        except StopAsyncIteration:
            pass
        except ApiError as err:
            await response.write(dumps({"type": "ERROR", "object": err.status()}) + b"\n")
        await response.write_eof()
    except ConnectionResetError:
        # The client went away; the finally block releases the watch.
        pass
    finally:
        if not first.done():
            first.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, ApiError):
            await first
        await events.aclose()
    return response


async def _events(core: ApiCore, watch: WatchRequest) -> AsyncGenerator[WatchEvent, None]:
    resource_version = watch.resource_version
    if watch.send_initial_events:
        items, resource_version = await core.list(
            watch.rt,
            watch.namespace,
            label_selector=watch.label_selector,
            field_selector=watch.field_selector,
        )
        for item in items:
            yield {"type": "ADDED", "object": item}
        end: Object = {
            "kind": watch.rt.kind,
            "apiVersion": watch.rt.api_version,
            "metadata": {"resourceVersion": resource_version, "annotations": {INITIAL_EVENTS_END: "true"}},
        }
        yield {"type": "BOOKMARK", "object": end}
    stream = core.watch(
        watch.rt,
        watch.namespace,
        resource_version=resource_version,
        label_selector=watch.label_selector,
        field_selector=watch.field_selector,
        allow_bookmarks=watch.allow_bookmarks,
        timeout_seconds=watch.timeout_seconds,
    )
    try:
        async for event in stream:
            yield event
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


class _Encoder:
    """Renders events in the form the client asked for."""

    def __init__(self, watch: WatchRequest) -> None:
        self._watch = watch
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
