"""The reconcile machinery every controller of the embedded cluster is built on.

A `Controller` watches its primary kind and the kinds it creates (pods, services, ...) through
`Informer`s. Every event becomes a key (namespace/name of the primary object) in a de-duplicating
`WorkQueue`; workers call `reconcile(key)` for one key at a time. A reconcile reads the current
state from the API core, acts, and returns how long until it must run again (TTLs, deadlines) or
None. Exceptions, including 409 Conflicts from writes with a stale resourceVersion, put the key back
with an exponential backoff. Status is written through the `status` subresource and only when it
changed, so a controller never wakes itself up with its own no-op writes. `self.events` records
core/v1 Events (best effort, in the background).

To write a new controller: subclass `Controller`, pass the primary and owned resource types to
`__init__`, implement `reconcile`. Read state with `self.core` in `reconcile` rather than from the
informer caches: the in-process core is cheap to ask and always current, which spares the
expectations bookkeeping client-go controllers need to avoid acting on stale caches.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import copy
import logging
from collections.abc import Sequence
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, EventType, Object
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.controllers.events import EventRecorder
from kaptain.cluster.controllers.informer import Informer
from kaptain.cluster.controllers.objects import Key, controller_of
from kaptain.cluster.controllers.workqueue import WorkQueue

log = logging.getLogger(__name__)

TypeRef = tuple[str, str, str]
"""(group, version, plural) of a resource type, resolved through the core's registry at start."""


def resolve(core: ApiCore, ref: TypeRef) -> ResourceType:
    """Looks up a served resource type.

    Args:
        core: The API core.
        ref: (group, version, plural).

    Returns:
        The resource type.

    Raises:
        LookupError: The core does not serve it.
    """
    rt = core.registry.get(*ref)
    if rt is None:
        group, version, plural = ref
        raise LookupError(f"the API server does not serve {plural} in {group or 'core'}/{version}")
    return rt


def newly_true(old_status: Object, new_status: Object, kind: str) -> dict[str, Any] | None:
    """The condition of type `kind` if it is True in `new_status` but was not (so) in `old_status`.

    Used to record an event once per transition rather than once per reconcile.

    Args:
        old_status: The stored status.
        new_status: The status about to be written.
        kind: Condition type.

    Returns:
        The new condition, or None.
    """

    def find(status: Object) -> dict[str, Any] | None:
        for cond in status.get("conditions") or []:
            if cond.get("type") == kind:
                found: dict[str, Any] = cond
                return found
        return None

    new, old = find(new_status), find(old_status)
    if new is None or new.get("status") != "True":
        return None
    if old is not None and old.get("status") == "True" and old.get("reason") == new.get("reason"):
        return None
    return new


async def write_status(core: ApiCore, rt: ResourceType, obj: Object, status: Object) -> Object | None:
    """Writes `status` through the status subresource unless it equals the stored one.

    The write carries `obj`'s resourceVersion, so a concurrent change makes it fail with 409 and the
    reconcile is retried on fresh state.

    Args:
        core: The API core.
        rt: The object's resource type.
        obj: The object as read at the start of the reconcile.
        status: The new status.

    Returns:
        The updated object, or None when nothing changed.

    Raises:
        ApiError: 409 on a stale resourceVersion, 404 when the object is gone.
    """
    if (obj.get("status") or {}) == status:
        return None
    body = copy.deepcopy(obj)
    body["status"] = status
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") if rt.namespaced else None
    return await core.update(rt, namespace, str(meta["name"]), body, subresource="status")


async def delete_ignoring_missing(
    core: ApiCore,
    rt: ResourceType,
    namespace: str | None,
    name: str,
    *,
    propagation_policy: str | None = None,
) -> bool:
    """Deletes an object; an object that is already gone is not an error.

    Args:
        core: The API core.
        rt: Its resource type.
        namespace: Its namespace.
        name: Its name.
        propagation_policy: Background, Foreground or Orphan.

    Returns:
        Whether this call found the object.

    Raises:
        ApiError: Any failure but 404.
    """
    try:
        await core.delete(rt, namespace, name, propagation_policy=propagation_policy)
    except ApiError as exc:
        if exc.code == 404:
            return False
        raise
    return True


class Controller(abc.ABC):
    """Base of a controller: informers feeding a work queue drained by `reconcile` workers.

    Args:
        core: The API core.
        primary: The kind this controller reconciles.
        owned: Kinds it creates with a controller ownerReference to the primary object; their
            events enqueue the owner.
        workers: How many keys are reconciled concurrently (never the same key twice).
        name: Used in logs and task names.
    """

    def __init__(
        self,
        core: ApiCore,
        primary: TypeRef,
        owned: Sequence[TypeRef] = (),
        *,
        workers: int = 2,
        name: str | None = None,
    ) -> None:
        self.core = core
        self.name = name or type(self).__name__
        self._primary_ref = primary
        self._owned_refs = tuple(owned)
        self._workers = max(1, workers)
        self._queue: WorkQueue[Key] = WorkQueue()
        self._informers: list[Informer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._primary: ResourceType | None = None
        self.events = EventRecorder(core, self.name)

    # -- what subclasses implement ---------------------------------------------------------

    @abc.abstractmethod
    async def reconcile(self, key: Key) -> float | None:
        """Brings the object named by `key` (and what it owns) towards its desired state.

        Args:
            key: namespace/name of a primary object (it may no longer exist).

        Returns:
            Seconds after which to reconcile again, or None.

        Raises:
            Exception: Any failure; the key is retried with backoff.
        """

    # -- life cycle -----------------------------------------------------------------------

    @property
    def primary(self) -> ResourceType:
        """The reconciled resource type (available once started)."""
        if self._primary is None:
            self._primary = resolve(self.core, self._primary_ref)
        return self._primary

    async def start(self) -> None:
        """Starts the informers (waiting for their first list) and the workers."""
        if self._tasks:
            return
        primary = self.primary
        informer = Informer(self.core, primary)
        informer.add_handler(self._on_primary)
        owned_informers = []
        for ref in self._owned_refs:
            owned = Informer(self.core, resolve(self.core, ref))
            owned.add_handler(self._on_owned)
            owned_informers.append(owned)
        self._informers = [informer, *owned_informers]
        try:
            for each in self._informers:
                await each.start()
        except BaseException:
            await self._stop_informers()
            raise
        await self.events.start()
        self._tasks = [
            asyncio.create_task(self._work(), name=f"{self.name}-worker-{i}") for i in range(self._workers)
        ]

    async def stop(self) -> None:
        """Stops the workers and informers; a reconcile in progress is cancelled."""
        self._queue.shutdown()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stop_informers()
        await self.events.stop()
        # A stopped controller can be started again with a fresh queue.
        self._queue = WorkQueue()

    async def _stop_informers(self) -> None:
        informers, self._informers = self._informers, []
        for each in informers:
            await each.stop()

    # -- queueing -------------------------------------------------------------------------

    def enqueue(self, key: Key, delay: float = 0.0) -> None:
        """Schedules a reconcile of `key` after `delay` seconds."""
        self._queue.add_after(key, delay)

    def _on_primary(self, kind: EventType, obj: Object) -> None:
        self.enqueue(Key.of(obj))

    def _on_owned(self, kind: EventType, obj: Object) -> None:
        ref = controller_of(obj)
        if ref is None:
            return
        primary = self.primary
        if ref.get("kind") != primary.kind or ref.get("apiVersion") != primary.api_version:
            return
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        self.enqueue(Key(namespace, str(ref.get("name") or "")))

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            if key is None:
                return
            try:
                requeue_after = await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                # 409 is the normal outcome of racing another writer; anything else is worth a log.
                if exc.code != 409:
                    log.warning("%s: reconcile %s failed: %s %s", self.name, key, exc.code, exc.message)
                self._queue.add_rate_limited(key)
            except Exception:
                log.exception("%s: reconcile %s failed", self.name, key)
                self._queue.add_rate_limited(key)
            else:
                self._queue.forget(key)
                if requeue_after is not None:
                    self._queue.add_after(key, max(requeue_after, 0.0))
            finally:
                self._queue.done(key)
