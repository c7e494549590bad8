"""The namespace and CRD life cycles, as kube-controller-manager and apiextensions-apiserver run them.

Namespaces: a new namespace gets its `default` ServiceAccount; a deleted one (phase Terminating,
finalizer `kubernetes` in `spec.finalizers`) has all its objects deleted, and once nothing is left
the finalizer is removed through the `finalize` subresource, which removes the namespace.

CRDs: every stored CRD serves its versions (registered synchronously when it is written, so an
object can be created right after its CRD); a deleted CRD (finalizer
`customresourcecleanup.apiextensions.k8s.io`) gets condition Terminating, has all its objects
deleted, then loses the finalizer, which removes it and stops serving its resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from kaptain.cluster.apiserver import crds
from kaptain.cluster.apiserver.builtin import CUSTOMRESOURCEDEFINITIONS, NAMESPACES, SERVICEACCOUNTS
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.store import Key
from kaptain.cluster.apiserver.strategy import NAMESPACE_FINALIZER, copy_json
from kaptain.cluster.apiserver.watchcache import Change
from kaptain.cluster.apiserver.workqueue import WorkQueue

if TYPE_CHECKING:
    from kaptain.cluster.apiserver.core import Core

_CRD_GROUP = CUSTOMRESOURCEDEFINITIONS.group
_CRD_PLURAL = CUSTOMRESOURCEDEFINITIONS.plural


def _deleting(obj: dict[str, object]) -> bool:
    meta = obj.get("metadata")
    return isinstance(meta, dict) and bool(meta.get("deletionTimestamp"))


class NamespaceLifecycle:
    """Creates default ServiceAccounts and empties deleted namespaces.

    Args:
        core: The core it observes and acts through.
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self._work: WorkQueue[tuple[Literal["sa", "finalize"], str]] = WorkQueue(
            "apiserver-namespaces", self._handle
        )

    async def start(self) -> None:
        """Queues the pending work found in the store and starts the worker (idempotent)."""
        for entry in self._core.store.items("", "namespaces"):
            self._work.add(("finalize" if _deleting(entry.obj) else "sa", entry.key.name))
        self._work.start()

    async def stop(self) -> None:
        """Stops the worker (idempotent)."""
        await self._work.stop()

    def idle(self) -> bool:
        """Whether nothing is queued or running."""
        return self._work.idle()

    def observe(self, change: Change) -> None:
        """Queues the work a committed write calls for."""
        key = change.entry.key
        if (key.group, key.plural) == ("", "namespaces"):
            if change.type == "ADDED":
                self._work.add(("sa", key.name))
            elif change.type == "MODIFIED" and _deleting(change.entry.obj):
                self._work.add(("finalize", key.name))
            return
        if not key.namespace or change.type != "DELETED":
            return
        ns = self._core.store.get(Key("", "namespaces", "", key.namespace))
        if ns is None:
            return
        if _deleting(ns.obj):
            self._work.add(("finalize", key.namespace))
        elif (key.plural, key.name) == ("serviceaccounts", "default"):
            self._work.add(("sa", key.namespace))

    async def _handle(self, task: tuple[Literal["sa", "finalize"], str]) -> None:
        action, name = task
        if action == "sa":
            await self._ensure_service_account(name)
        else:
            await self._finalize(name)

    async def _ensure_service_account(self, namespace: str) -> None:
        ns = self._core.store.get(Key("", "namespaces", "", namespace))
        if ns is None or _deleting(ns.obj):
            return
        if self._core.store.get(Key("", "serviceaccounts", namespace, "default")) is not None:
            return
        try:
            await self._core.create(SERVICEACCOUNTS, namespace, {"metadata": {"name": "default"}})
        except ApiError as exc:
            # The namespace went away or is terminating, or someone else created it meanwhile.
            if exc.code not in (403, 404, 409):
                raise

    async def _finalize(self, name: str) -> None:
        store = self._core.store
        ns = store.get(Key("", "namespaces", "", name))
        if ns is None or not _deleting(ns.obj):
            return
        remaining = False
        for entry in list(store.in_namespace(name)):
            remaining = True
            if _deleting(entry.obj):
                continue  # waiting for its finalizers or its kubelet
            rt = self._core.resource_type(entry.key.group, entry.key.plural)
            if rt is None:
                continue
            await self._core.delete(
                rt, name, entry.key.name, propagation_policy="Background", preconditions={"uid": entry.uid}
            )
        if remaining and any(True for _ in store.in_namespace(name)):
            return  # re-queued by the deletions still to come
        body = copy_json(ns.obj)
        spec = body.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != NAMESPACE_FINALIZER]
        await self._core.update(NAMESPACES, None, name, body, subresource="finalize")


class CrdLifecycle:
    """Serves the resources of stored CRDs and removes a deleted CRD's objects.

    Args:
        core: The core it observes and acts through.
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self._served: dict[str, list[tuple[str, str, str]]] = {}
        self._work: WorkQueue[str] = WorkQueue("apiserver-crds", self._cleanup)

    def register_stored(self) -> None:
        """Serves every CRD in the store (at open, before anything else runs)."""
        for entry in self._core.store.items(_CRD_GROUP, _CRD_PLURAL):
            self._register(entry.obj)

    async def start(self) -> None:
        """Queues the cleanup of CRDs deleted before a restart and starts the worker (idempotent)."""
        for entry in self._core.store.items(_CRD_GROUP, _CRD_PLURAL):
            if _deleting(entry.obj):
                self._work.add(entry.key.name)
        self._work.start()

    async def stop(self) -> None:
        """Stops the worker (idempotent)."""
        await self._work.stop()

    def idle(self) -> bool:
        """Whether nothing is queued or running."""
        return self._work.idle()

    def terminating(self, group: str, plural: str) -> bool:
        """Whether the CRD of (group, plural) is being deleted (creates are then refused)."""
        entry = self._core.store.get(Key(_CRD_GROUP, _CRD_PLURAL, "", f"{plural}.{group}"))
        return entry is not None and _deleting(entry.obj)

    def observe(self, change: Change) -> None:
        """Keeps the registry in step with the CRDs and queues cleanups."""
        key = change.entry.key
        if (key.group, key.plural) == (_CRD_GROUP, _CRD_PLURAL):
            if change.type == "DELETED":
                self._unregister(key.name)
            else:
                self._register(change.entry.obj)
                if _deleting(change.entry.obj):
                    self._work.add(key.name)
            return
        if change.type == "DELETED" and key.group and self.terminating(key.group, key.plural):
            self._work.add(f"{key.plural}.{key.group}")

    def _register(self, crd: dict[str, Any]) -> None:
        name = str((crd.get("metadata") or {}).get("name", ""))
        types = crds.resource_types(crd)
        wanted = {(rt.group, rt.version, rt.plural) for rt in types}
        for path in self._served.get(name, []):
            if path not in wanted:
                self._core.registry.remove(*path)
        for rt in types:
            self._core.registry.add(rt)
        self._served[name] = sorted(wanted)

    def _unregister(self, name: str) -> None:
        for path in self._served.pop(name, []):
            self._core.registry.remove(*path)
            self._core.close_watches(path[0], path[2])

    async def _cleanup(self, name: str) -> None:
        crd_key = Key(_CRD_GROUP, _CRD_PLURAL, "", name)
        entry = self._core.store.get(crd_key)
        if entry is None or not _deleting(entry.obj):
            return
        if not crds.has_condition(entry.obj, "Terminating"):
            status_body = copy_json(entry.obj)
            crds.set_condition(
                status_body,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            )
            await self._core.update(CUSTOMRESOURCEDEFINITIONS, None, name, status_body, subresource="status")
        group, plural = crds.group_plural(entry.obj)
        rt = self._core.resource_type(group, plural)
        remaining = False
        for obj_entry in list(self._core.store.items(group, plural)):
            remaining = True
            if rt is None or _deleting(obj_entry.obj):
                continue
            await self._core.delete(
                rt,
                obj_entry.key.namespace or None,
                obj_entry.key.name,
                propagation_policy="Background",
                preconditions={"uid": obj_entry.uid},
            )
        if remaining and any(True for _ in self._core.store.items(group, plural)):
            return  # re-queued as the remaining objects go away
        latest = self._core.store.get(crd_key)
        if latest is None:
            return
        body = copy_json(latest.obj)
        meta = body["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != crds.CLEANUP_FINALIZER]
        await self._core.update(CUSTOMRESOURCEDEFINITIONS, None, name, body)
