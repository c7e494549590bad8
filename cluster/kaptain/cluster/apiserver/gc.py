"""The garbage collector: ownerReference-based cascading deletion, as kube-controller-manager's.

It keeps an index owner uid -> dependents, fed synchronously by every committed write, and a work
queue processed by one background task that acts through the core's public API (so its writes get
the same validation, events and finalizer handling as anyone else's):

- a dependent none of whose owners exists any more ("dangling" references) is deleted, with the
  policy its own finalizers ask for (Background otherwise);
- an owner deleted with `propagationPolicy=Foreground` (finalizer `foregroundDeletion`) first has
  its dependents deleted; the finalizer is removed once no dependent with
  `blockOwnerDeletion: true` remains;
- an owner deleted with `propagationPolicy=Orphan` (finalizer `orphan`) has its reference removed
  from every dependent, then the finalizer is removed.

An owner reference counts only if an object with that uid exists with the referenced kind and
name and, for a namespaced dependent, lives in the same namespace (or is cluster-scoped); a
cluster-scoped dependent can only have cluster-scoped owners. That is how Kubernetes resolves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from kaptain.cluster.apiserver.deletion import FOREGROUND_FINALIZER, ORPHAN_FINALIZER
from kaptain.cluster.apiserver.store import Entry, Key
from kaptain.cluster.apiserver.watchcache import Change
from kaptain.cluster.apiserver.workqueue import WorkQueue

if TYPE_CHECKING:
    from kaptain.cluster.apiserver.core import Core

Object = dict[str, Any]
_Task = tuple[Literal["attempt", "owner"], Key, str]


def owner_refs(obj: Object) -> list[Object]:
    """The well-formed ownerReferences of an object (dicts with a uid)."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [r for r in refs if isinstance(r, dict) and r.get("uid")]


def _is_deleting(obj: Object) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _finalizers(obj: Object) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def _waits_for_dependents(obj: Object) -> bool:
    return _is_deleting(obj) and FOREGROUND_FINALIZER in _finalizers(obj)


class GarbageCollector:
    """Deletes dependents of deleted owners and runs the orphan/foreground finalizers.

    Args:
        core: The core it observes and acts through.
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self._dependents: dict[str, set[Key]] = {}
        self._work: WorkQueue[_Task] = WorkQueue("apiserver-gc", self._handle)
        self._started = False
        for group, plural in core.store.resources():
            for entry in core.store.items(group, plural):
                for ref in owner_refs(entry.obj):
                    self._dependents.setdefault(str(ref["uid"]), set()).add(entry.key)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Queues a full pass over the stored objects and starts the worker (idempotent)."""
        if self._started:
            return
        self._started = True
        for group, plural in self._core.store.resources():
            for entry in self._core.store.items(group, plural):
                if owner_refs(entry.obj):
                    self._add(("attempt", entry.key, entry.uid))
                if _is_deleting(entry.obj) and {ORPHAN_FINALIZER, FOREGROUND_FINALIZER} & set(
                    _finalizers(entry.obj)
                ):
                    self._add(("owner", entry.key, entry.uid))
        self._work.start()

    async def stop(self) -> None:
        """Stops the worker (idempotent); queued work is kept for the next start."""
        self._started = False
        await self._work.stop()

    def idle(self) -> bool:
        """Whether no work is queued or running."""
        return self._work.idle()

    # -- observing writes ---------------------------------------------------------------------

    def observe(self, change: Change) -> None:
        """Updates the owner index and queues the work a committed write calls for."""
        key = change.entry.key
        new_uids = (
            set() if change.type == "DELETED" else {str(r["uid"]) for r in owner_refs(change.entry.obj)}
        )
        old_uids = {str(r["uid"]) for r in owner_refs(change.prev.obj)} if change.prev is not None else set()
        for uid in old_uids - new_uids:
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[uid]
        for uid in new_uids - old_uids:
            self._dependents.setdefault(uid, set()).add(key)

        if change.type == "DELETED":
            for dep in list(self._dependents.get(change.entry.uid, ())):
                dep_entry = self._core.store.get(dep)
                if dep_entry is not None:
                    self._add(("attempt", dep, dep_entry.uid))
        else:
            obj = change.entry.obj
            if new_uids and new_uids != old_uids:
                self._add(("attempt", key, change.entry.uid))
            if _is_deleting(obj) and {ORPHAN_FINALIZER, FOREGROUND_FINALIZER} & set(_finalizers(obj)):
                self._add(("owner", key, change.entry.uid))
        # A dependent going away (or dropping its reference) may unblock a foreground owner.
        for uid in old_uids | new_uids:
            owner = self._core.store.by_uid(uid)
            if owner is not None and _waits_for_dependents(owner.obj):
                self._add(("owner", owner.key, uid))

    def _add(self, task: _Task) -> None:
        self._work.add(task)

    async def _handle(self, task: _Task) -> None:
        if task[0] == "attempt":
            await self._attempt_to_delete(task[1], task[2])
        else:
            await self._process_owner(task[1], task[2])

    def _current(self, key: Key, uid: str) -> Entry | None:
        entry = self._core.store.get(key)
        return entry if entry is not None and entry.uid == uid else None

    def _resolve_owner(self, dependent: Key, ref: Object) -> Entry | None:
        owner = self._core.store.by_uid(str(ref["uid"]))
        if owner is None:
            return None
        okey = owner.key
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        if owner.obj.get("kind") != ref.get("kind") or okey.name != ref.get("name") or okey.group != group:
            return None
        if okey.namespace and okey.namespace != dependent.namespace:
            return None
        return owner

    async def _attempt_to_delete(self, key: Key, uid: str) -> None:
        entry = self._current(key, uid)
        if entry is None:
            return
        if _is_deleting(entry.obj):
            if _waits_for_dependents(entry.obj):
                await self._process_owner(key, uid)
            return
        refs = owner_refs(entry.obj)
        if not refs:
            return
        solid: list[Object] = []
        gone: set[str] = set()
        waiting: list[Object] = []
        for ref in refs:
            owner = self._resolve_owner(key, ref)
            if owner is None:
                gone.add(str(ref["uid"]))
            elif _waits_for_dependents(owner.obj):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            drop = gone | {str(r["uid"]) for r in waiting}
            if drop:
                await self._remove_refs(entry, drop)
            return
        if waiting and self._dependents.get(uid):
            policy = "Foreground"
        elif ORPHAN_FINALIZER in _finalizers(entry.obj):
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in _finalizers(entry.obj):
            policy = "Foreground"
        else:
            policy = "Background"
        rt = self._core.resource_type(key.group, key.plural)
        if rt is None:
            return
        await self._core.delete(
            rt, key.namespace or None, key.name, propagation_policy=policy, preconditions={"uid": uid}
        )

    async def _process_owner(self, key: Key, uid: str) -> None:
        entry = self._current(key, uid)
        if entry is None or not _is_deleting(entry.obj):
            return
        finalizers = _finalizers(entry.obj)
        dependents = [
            e for k in list(self._dependents.get(uid, ())) if (e := self._core.store.get(k)) is not None
        ]
        if ORPHAN_FINALIZER in finalizers:
            for dep in dependents:
                await self._remove_refs(dep, {uid})
            await self._remove_finalizer(key, uid, ORPHAN_FINALIZER)
            return
        if FOREGROUND_FINALIZER not in finalizers:
            return
        blocking = [
            dep
            for dep in dependents
            if any(str(r["uid"]) == uid and r.get("blockOwnerDeletion") is True for r in owner_refs(dep.obj))
        ]
        if not blocking:
            await self._remove_finalizer(key, uid, FOREGROUND_FINALIZER)
            return
        for dep in dependents:
            if not _is_deleting(dep.obj) or _waits_for_dependents(dep.obj):
                self._add(("attempt", dep.key, dep.uid))

    async def _remove_refs(self, entry: Entry, uids: set[str]) -> None:
        rt = self._core.resource_type(entry.key.group, entry.key.plural)
        if rt is None:
            return
        obj = await self._core.get(rt, entry.key.namespace or None, entry.key.name)
        meta = obj["metadata"]
        if meta.get("uid") != entry.uid:
            return
        refs = [
            r for r in meta.get("ownerReferences") or [] if not (isinstance(r, dict) and r.get("uid") in uids)
        ]
        if refs == (meta.get("ownerReferences") or []):
            return
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        await self._core.update(rt, entry.key.namespace or None, entry.key.name, obj)

    async def _remove_finalizer(self, key: Key, uid: str, finalizer: str) -> None:
        rt = self._core.resource_type(key.group, key.plural)
        if rt is None:
            return
        obj = await self._core.get(rt, key.namespace or None, key.name)
        meta = obj["metadata"]
        if meta.get("uid") != uid or finalizer not in (meta.get("finalizers") or []):
            return
        meta["finalizers"] = [f for f in meta["finalizers"] if f != finalizer]
        await self._core.update(rt, key.namespace or None, key.name, obj)
