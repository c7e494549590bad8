"""core/v1 Events written by the controllers, as client-go's event recorder does.

Events are best effort: `record` queues them without waiting and a background task writes them;
when the queue is full, events are dropped rather than slowing reconciles down. An event repeated
for the same object, reason and message bumps the `count` and `lastTimestamp` of the first one
(kube's event correlation), so a reconcile loop cannot flood the store.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from dataclasses import dataclass

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.controllers.objects import now_text

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
_QUEUE_SIZE = 1000
_REMEMBERED = 2000


@dataclass(frozen=True)
class _Pending:
    involved: Object
    type: str
    reason: str
    message: str


class EventRecorder:
    """Writes Events about objects in the background.

    Args:
        core: The API core.
        component: `source.component` / `reportingController` of the events (`job-controller`).
    """

    def __init__(self, core: ApiCore, component: str) -> None:
        self._core = core
        self._component = component
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(_QUEUE_SIZE)
        self._recent: collections.OrderedDict[tuple[str, str, str], tuple[str, int]] = (
            collections.OrderedDict()
        )
        self._task: asyncio.Task[None] | None = None

    def record(self, obj: Object, type_: str, reason: str, message: str) -> None:
        """Queues an event about `obj` (dropped when the queue is full).

        Args:
            obj: The object the event is about (needs apiVersion, kind and metadata).
            type_: `Normal` or `Warning`.
            reason: Short CamelCase reason.
            message: Human readable message.
        """
        meta = obj.get("metadata") or {}
        involved: Object = {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        }
        if meta.get("resourceVersion"):
            involved["resourceVersion"] = meta["resourceVersion"]
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_Pending(involved, type_, reason, message))

    async def start(self) -> None:
        """Starts the writer task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self._component}-events")

    async def stop(self, flush_seconds: float = 1.0) -> None:
        """Stops the writer after writing what is queued, for at most `flush_seconds`.

        Args:
            flush_seconds: Bound of the final flush.
        """
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_seconds):
                while not self._queue.empty():
                    await self._write_logged(self._queue.get_nowait())

    async def _run(self) -> None:
        while True:
            await self._write_logged(await self._queue.get())

    async def _write_logged(self, pending: _Pending) -> None:
        try:
            await self._write(pending)
        except ApiError as exc:
            log.debug("event %s not recorded: %s", pending.reason, exc.message)
        except Exception:
            log.exception("event %s not recorded", pending.reason)

    async def _write(self, pending: _Pending) -> None:
        rt = self._core.registry.get("", "v1", "events")
        if rt is None:
            return
        involved = pending.involved
        namespace = str(involved.get("namespace") or "default")
        stamp = now_text()
        key = (str(involved.get("uid")), pending.reason, pending.message)
        if key in self._recent:
            name, count = self._recent[key]
            self._recent.move_to_end(key)
            try:
                await self._core.patch(
                    rt,
                    namespace,
                    name,
                    {"count": count + 1, "lastTimestamp": stamp},
                    "application/merge-patch+json",
                )
                self._recent[key] = (name, count + 1)
                return
            except ApiError as exc:
                if exc.code != 404:
                    raise
        name = f"{involved.get('name')}.{uuid.uuid4().hex[:16]}"
        event: Object = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": pending.reason,
            "message": pending.message,
            "type": pending.type,
            "source": {"component": self._component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": self._component,
            "reportingInstance": "",
        }
        await self._core.create(rt, namespace, event)
        self._recent[key] = (name, 1)
        while len(self._recent) > _REMEMBERED:
            self._recent.popitem(last=False)
