"""List+watch of one resource type with a local cache, as client-go's reflector and informer.

The informer lists the objects, then watches from the list's resourceVersion. When the watch ends
(its timeout) it watches again from the last version seen; when the version is too old (410 Gone,
raised or sent as an ERROR event) or anything else fails, it lists again and reports the
difference, so a handler sees a DELETED for an object removed during the gap. Handlers run
synchronously in the informer's task and must not block (controllers only enqueue keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, EventType, Object
from kaptain.cluster.apiserver.resources import ResourceType

log = logging.getLogger(__name__)

Handler = Callable[[EventType, Object], None]

# Re-watching regularly bounds how long a silently broken watch could go unnoticed.
_WATCH_TIMEOUT_SECONDS = 300.0
_RETRY_BASE_SECONDS = 0.1
_RETRY_MAX_SECONDS = 5.0


def _cache_key(obj: Object) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _resource_version(obj: Object) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """Keeps a cache of one resource type current and tells handlers about every change.

    Args:
        core: The API core.
        rt: The resource type to watch.
        namespace: Only this namespace; None for all namespaces.
        label_selector: Only objects matching this selector.
        watch_timeout: Seconds after which each watch is renewed from the last version seen.

    Attributes:
        relists: How many times the objects were listed: 1 after start, one more per recovery.
    """

    def __init__(
        self,
        core: ApiCore,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        watch_timeout: float = _WATCH_TIMEOUT_SECONDS,
    ) -> None:
        self._core = core
        self._watch_timeout = watch_timeout
        self.relists = 0
        self._rt = rt
        self._namespace = namespace
        self._label_selector = label_selector
        self._handlers: list[Handler] = []
        self._cache: dict[tuple[str, str], Object] = {}
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def resource(self) -> ResourceType:
        """The watched resource type."""
        return self._rt

    def add_handler(self, handler: Handler) -> None:
        """Registers a callback for ADDED, MODIFIED and DELETED events (call before `start`).

        Args:
            handler: Called with the event type and the object.
        """
        self._handlers.append(handler)

    def get(self, namespace: str | None, name: str) -> Object | None:
        """The cached object, or None."""
        return self._cache.get((namespace or "", name))

    def items(self) -> list[Object]:
        """All cached objects."""
        return list(self._cache.values())

    async def start(self, sync_timeout: float = 10.0) -> None:
        """Starts the list+watch loop and waits (bounded) for the first list to be in the cache.

        Args:
            sync_timeout: Seconds to wait for the first list; after that the loop keeps retrying
                in the background and `synced` tells when it succeeded.
        """
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name=f"informer:{self._rt.plural}")
        try:
            await asyncio.wait_for(self._synced.wait(), sync_timeout)
        except TimeoutError:
            log.warning("informer for %s not synced after %.0fs; still trying", self._rt.plural, sync_timeout)

    @property
    def synced(self) -> bool:
        """Whether the first list has been loaded."""
        return self._synced.is_set()

    async def stop(self) -> None:
        """Stops the loop; the cache keeps its last state."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                version = await self._relist()
                failures = 0
                await self._watch_from(version)
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.code != 410:
                    log.warning("watch of %s failed: %s", self._rt.plural, exc.message)
                    failures += 1
            except Exception:
                log.exception("watch of %s failed", self._rt.plural)
                failures += 1
            if failures:
                await asyncio.sleep(min(_RETRY_MAX_SECONDS, _RETRY_BASE_SECONDS * 2 ** min(failures, 16)))

    async def _relist(self) -> str:
        items, version = await self._core.list(self._rt, self._namespace, label_selector=self._label_selector)
        self.relists += 1
        fresh = {_cache_key(obj): obj for obj in items}
        gone = [obj for key, obj in self._cache.items() if key not in fresh]
        previous = self._cache
        self._cache = fresh
        for obj in gone:
            self._emit("DELETED", obj)
        for key, obj in fresh.items():
            old = previous.get(key)
            if old is None:
                self._emit("ADDED", obj)
            elif _resource_version(old) != _resource_version(obj):
                self._emit("MODIFIED", obj)
        self._synced.set()
        return version

    async def _watch_from(self, version: str) -> None:
        """Follows the watch until the server ends it, re-watching from the last version seen.

        Raises:
            ApiError: 410 when the version is too old (the caller re-lists).
        """
        while True:
            stream = self._core.watch(
                self._rt,
                self._namespace,
                resource_version=version,
                label_selector=self._label_selector,
                allow_bookmarks=True,
                timeout_seconds=self._watch_timeout,
            )
            async for event in stream:
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    code = int(obj.get("code") or 500)
                    raise ApiError(code, str(obj.get("reason") or ""), str(obj.get("message") or ""))
                version = _resource_version(obj) or version
                if kind == "BOOKMARK":
                    continue
                key = _cache_key(obj)
                if kind == "DELETED":
                    self._cache.pop(key, None)
                else:
                    self._cache[key] = obj
                self._emit(kind, obj)

    def _emit(self, kind: EventType, obj: Object) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("handler for %s %s failed", self._rt.plural, _cache_key(obj))
