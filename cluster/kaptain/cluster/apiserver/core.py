"""The in-process API server: `Core` implements `ApiCore` over the SQLite store and the watch cache.

All operations run on the event loop and never await between reading an object and writing its
new version, so each write is atomic with respect to every other request without locks. Every
committed write is published to the watch cache and to the in-process controllers of the server
itself (garbage collector, namespace lifecycle, CRD lifecycle), which react in background tasks.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from kaptain.cluster.apiserver import bodies, crds, deletion, strategy
from kaptain.cluster.apiserver.admission import Admission
from kaptain.cluster.apiserver.builtin import (
    CUSTOMRESOURCEDEFINITIONS,
    NAMESPACES,
    SYSTEM_NAMESPACES,
    builtin_registry,
    is_crd,
    is_namespace,
)
from kaptain.cluster.apiserver.builtin_crds import BUILTIN_CRDS
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.fielderrors import required
from kaptain.cluster.apiserver.gc import GarbageCollector
from kaptain.cluster.apiserver.interface import EventType, Object, PatchType, WatchEvent
from kaptain.cluster.apiserver.lifecycle import CrdLifecycle, NamespaceLifecycle
from kaptain.cluster.apiserver.patching import patched_object
from kaptain.cluster.apiserver.resources import ResourceRegistry, ResourceType
from kaptain.cluster.apiserver.selection import matcher_for
from kaptain.cluster.apiserver.store import Entry, Key, Store, StoreError
from kaptain.cluster.apiserver.watchcache import Change, StreamOptions, Subscription, WatchArgs, WatchCache

_log = logging.getLogger(__name__)


class _Controller(Protocol):
    """A controller of the server itself, fed every committed change synchronously."""

    def observe(self, change: Change) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def idle(self) -> bool: ...


DEFAULT_HISTORY_SIZE = 10_000
DEFAULT_BOOKMARK_INTERVAL = timedelta(seconds=5)
DEFAULT_WATCH_QUEUE_LIMIT = 10_000
_GENERATE_NAME_ATTEMPTS = 8


class Core:
    """The API server core (see `ApiCore` for the semantics of each operation).

    Build it with `await Core.open(data_dir)`, which loads the store, registers the stored CRDs,
    creates the system namespaces and our CRDs when missing, and starts the background tasks
    (garbage collector, namespace and CRD lifecycles). `stop()`/`start()` pause and resume those
    tasks (the `Component` protocol); `close()` stops them, ends all watches and closes the store.

    Args:
        store: The opened store.
        history_size: Changes kept for resuming watches.
        bookmark_interval: Period of BOOKMARK events on watches that allow them.
        watch_queue_limit: Undelivered events after which a watch is ended with 410.
    """

    def __init__(
        self,
        store: Store,
        *,
        history_size: int = DEFAULT_HISTORY_SIZE,
        bookmark_interval: timedelta = DEFAULT_BOOKMARK_INTERVAL,
        watch_queue_limit: int = DEFAULT_WATCH_QUEUE_LIMIT,
    ) -> None:
        self._store = store
        self._registry = builtin_registry()
        self._cache = WatchCache(history_size, store.resource_version, watch_queue_limit)
        self._bookmark_interval = bookmark_interval.total_seconds()
        self._admission = Admission()
        self._closed = False
        self._crd_lifecycle = CrdLifecycle(self)
        # The CRD life cycle observes first: a CRD's resource is served before anyone reacts to it.
        self._controllers: list[_Controller] = [
            self._crd_lifecycle,
            GarbageCollector(self),
            NamespaceLifecycle(self),
        ]

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        history_size: int = DEFAULT_HISTORY_SIZE,
        bookmark_interval: timedelta = DEFAULT_BOOKMARK_INTERVAL,
        watch_queue_limit: int = DEFAULT_WATCH_QUEUE_LIMIT,
    ) -> Core:
        """Opens (or creates) the API server state under `data_dir` and starts the core.

        Args:
            data_dir: Directory for `apiserver.db` (created if missing).
            history_size: Changes kept for resuming watches.
            bookmark_interval: Period of BOOKMARK events.
            watch_queue_limit: Undelivered events after which a watch is ended with 410.

        Returns:
            The started core.

        Raises:
            ApiError: 500 when the database cannot be opened.
        """
        core = cls(
            _open_store(data_dir),
            history_size=history_size,
            bookmark_interval=bookmark_interval,
            watch_queue_limit=watch_queue_limit,
        )
        core._crd_lifecycle.register_stored()
        await core._bootstrap()
        await core.start()
        return core

    async def _bootstrap(self) -> None:
        """Creates the system namespaces and our CRDs that are missing (never overwrites them)."""
        wanted = [(NAMESPACES, {"metadata": {"name": name}}) for name in SYSTEM_NAMESPACES]
        wanted += [(CUSTOMRESOURCEDEFINITIONS, crd) for crd in BUILTIN_CRDS]
        for rt, obj in wanted:
            if self._store.get(Key(rt.group, rt.plural, "", obj["metadata"]["name"])) is None:
                await self.create(rt, None, obj)

    async def start(self) -> None:
        """Starts the background controllers (idempotent)."""
        for controller in self._controllers:
            await controller.start()

    async def stop(self) -> None:
        """Stops the background controllers (idempotent); the API keeps working."""
        for controller in reversed(self._controllers):
            await controller.stop()

    async def close(self) -> None:
        """Stops the controllers, ends every watch and closes the store (idempotent)."""
        if self._closed:
            return
        await self.stop()
        self._closed = True
        self._cache.close_all()
        self._store.close()

    # -- accessors for the server's own controllers ------------------------------------------

    @property
    def registry(self) -> ResourceRegistry:
        """See `ApiCore.registry`."""
        return self._registry

    @property
    def store(self) -> Store:
        """The store, for read-only use by the server's controllers (GC, lifecycles)."""
        return self._store

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion."""
        return self._store.resource_version

    def resource_type(self, group: str, plural: str) -> ResourceType | None:
        """A served version of (group, plural), or None."""
        return self._registry.for_resource(group, plural)

    def idle(self) -> bool:
        """Whether the background controllers have no work queued or running (for tests and tools)."""
        return all(controller.idle() for controller in self._controllers)

    def close_watches(self, group: str, plural: str) -> None:
        """Ends every watch of a resource (used when its CRD is removed)."""
        self._cache.close_resource(group, plural)

    # -- reads --------------------------------------------------------------------------------

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Object:
        """See `ApiCore.get`."""
        rt = self._served(rt)
        entry = self._store.get(self._key(rt, namespace, name))
        if entry is None:
            raise ApiError.not_found(rt.group, rt.plural, name)
        return _out(entry, rt)

    async def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Object], str]:
        """See `ApiCore.list`."""
        rt = self._served(rt)
        matches = matcher_for(rt, label_selector, field_selector)
        ns = namespace if rt.namespaced else None
        items = [_out(e, rt) for e in self._store.items(rt.group, rt.plural, ns) if matches(e.obj)]
        return items, str(self._store.resource_version)

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = False,
        timeout_seconds: float | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """See `ApiCore.watch`."""
        return self._watch(
            WatchArgs(
                rt,
                namespace,
                resource_version,
                label_selector,
                field_selector,
                allow_bookmarks,
                timeout_seconds,
            )
        )

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
    ) -> AsyncIterator[tuple[EventType, bytes]]:
        """`watch`, yielding each event in wire form: (type, `{"type":...,"object":...}` + newline).

        The fast path for serving watches over HTTP: an event's JSON is built once and shared by all
        watchers that send it, instead of being copied and re-serialised per watcher. Semantics and
        errors are those of `watch`.
        """
        return self._watch_encoded(
            WatchArgs(
                rt,
                namespace,
                resource_version,
                label_selector,
                field_selector,
                allow_bookmarks,
                timeout_seconds,
            )
        )

    async def _watch(self, args: WatchArgs) -> AsyncIterator[WatchEvent]:
        stream = self._cache.stream(*self._subscribe(args))
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()

    async def _watch_encoded(self, args: WatchArgs) -> AsyncIterator[tuple[EventType, bytes]]:
        stream = self._cache.stream_encoded(*self._subscribe(args))
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()

    def _subscribe(self, args: WatchArgs) -> tuple[Subscription, StreamOptions]:
        rt = self._served(args.rt)
        matches = matcher_for(rt, args.label_selector, args.field_selector)
        ns = args.namespace if rt.namespaced else None
        since = bodies.parse_resource_version(args.resource_version)
        # Snapshot and subscription happen without an await in between, so no change is missed.
        snapshot = None
        if since is None:
            snapshot = [e for e in self._store.items(rt.group, rt.plural, ns) if matches(e.obj)]
        sub = self._cache.subscribe(rt.group, rt.plural, ns, matches, since=since, snapshot=snapshot)
        options = StreamOptions(
            api_version=rt.api_version,
            kind=rt.kind,
            bookmark_interval=self._bookmark_interval if args.allow_bookmarks else None,
            # timeoutSeconds=0 means "no timeout given" in Kubernetes, not "end at once".
            duration=args.timeout_seconds if args.timeout_seconds and args.timeout_seconds > 0 else None,
        )
        return sub, options

    # -- writes -------------------------------------------------------------------------------

    async def create(
        self, rt: ResourceType, namespace: str | None, obj: Object, *, dry_run: bool = False
    ) -> Object:
        """See `ApiCore.create`."""
        rt = self._served(rt)
        body = bodies.decode_body(rt, obj)
        meta = body["metadata"]
        ns = bodies.create_namespace(rt, namespace, meta)
        bodies.strip_server_fields(meta)
        name = str(meta.get("name") or "")
        if not name and meta.get("generateName"):
            name = self._generate_name(rt, ns, str(meta["generateName"]))
        if not name:
            raise ApiError.invalid(
                rt.group, rt.kind, "", [required("metadata.name", "name or generateName is required")]
            )
        meta["name"] = name
        self._check_can_create(rt, ns, name)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = strategy.rfc3339(strategy.now())
        if strategy.has_generation(rt):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        strategy.prepare_for_create(rt, body)
        if is_crd(rt):
            crds.prepare_crd(body, None)
        causes = self._admission.admit(rt, body, None)
        if causes:
            raise ApiError.invalid(rt.group, rt.kind, name, causes)
        key = self._key(rt, ns, name)
        if self._store.get(key) is not None:
            raise ApiError.already_exists(rt.group, rt.plural, name)
        if dry_run:
            return body
        return _out(self._put(key, body, None), rt)

    def _generate_name(self, rt: ResourceType, namespace: str | None, prefix: str) -> str:
        # Kubernetes truncates the prefix so that prefix + suffix is a valid 63-character name.
        prefix = prefix[: 63 - strategy.NAME_SUFFIX_LENGTH]
        name = prefix + strategy.random_suffix()
        for _ in range(_GENERATE_NAME_ATTEMPTS):
            if self._store.get(self._key(rt, namespace, name)) is None:
                return name
            name = prefix + strategy.random_suffix()
        raise ApiError.already_exists(rt.group, rt.plural, name)

    def _check_can_create(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if namespace is not None:
            ns_entry = self._store.get(Key("", "namespaces", "", namespace))
            if ns_entry is None:
                raise ApiError.not_found("", "namespaces", namespace)
            if ns_entry.obj["metadata"].get("deletionTimestamp"):
                raise bodies.namespace_terminating(rt, namespace, name)
        if not rt.builtin and self._crd_lifecycle.terminating(rt.group, rt.plural):
            raise ApiError.method_not_allowed(
                "create not allowed while custom resource definition is terminating"
            )

    async def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: Object,
        *,
        subresource: str | None = None,
    ) -> Object:
        """See `ApiCore.update`."""
        rt = self._served(rt)
        body = bodies.decode_body(rt, obj)
        key = self._key(rt, namespace, name)
        current = self._store.get(key)
        if current is None:
            raise ApiError.not_found(rt.group, rt.plural, name)
        return self._update(rt, current, body, subresource)

    async def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: PatchType,
        *,
        subresource: str | None = None,
    ) -> Object:
        """See `ApiCore.patch`."""
        rt = self._served(rt)
        key = self._key(rt, namespace, name)
        current = self._store.get(key)
        if current is None:
            if patch_type == "application/apply-patch+yaml" and subresource is None:
                # Server-side apply creates what does not exist yet.
                body = patched_object(rt, {}, patch, patch_type)
                body.setdefault("metadata", {}).setdefault("name", name)
                if body["metadata"]["name"] != name:
                    raise ApiError.bad_request(
                        f"the name of the object ({body['metadata']['name']}) does not match the name on the URL ({name})"
                    )
                return await self.create(rt, namespace, body)
            raise ApiError.not_found(rt.group, rt.plural, name)
        base = _out(current, rt)
        body = patched_object(rt, base, patch, patch_type)
        return self._update(rt, current, bodies.decode_body(rt, body), subresource)

    def _update(self, rt: ResourceType, current: Entry, body: Object, subresource: str | None) -> Object:
        old = current.obj
        old_meta = old["metadata"]
        meta = body["metadata"]
        name = old_meta["name"]
        if meta.get("name", name) != name:
            raise ApiError.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace", old_meta.get("namespace")) != old_meta.get("namespace"):
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        body_rv = meta.get("resourceVersion")
        if body_rv not in (None, "") and str(body_rv) != old_meta.get("resourceVersion"):
            raise ApiError.conflict(rt.group, rt.plural, name)
        body_uid = meta.get("uid")
        if body_uid not in (None, "") and body_uid != old_meta.get("uid"):
            raise ApiError.conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: UID in precondition: {body_uid}, UID in object meta: {old_meta.get('uid')}",
            )
        new = bodies.merge_for_update(rt, old, body, subresource)
        strategy.prepare_for_update(rt, new, old)
        if is_crd(rt):
            crds.prepare_crd(new, old)
        causes = self._admission.admit(rt, new, old)
        causes += bodies.finalizer_causes(old, new)
        if causes:
            raise ApiError.invalid(rt.group, rt.kind, name, causes)
        new_meta = new["metadata"]
        if strategy.has_generation(rt):
            generation = int(old_meta.get("generation") or 1)
            new_meta["generation"] = generation + 1 if strategy.spec_changed(rt, new, old) else generation
        new_meta["resourceVersion"] = old_meta.get("resourceVersion")
        if new == old:
            # A no-op write stores nothing and sends no event, as in Kubernetes.
            return _out(current, rt)
        if deletion.should_remove_on_update(rt, new):
            return _out(self._remove(current, new), rt)
        return _out(self._put(current.key, new, current), rt)

    async def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> Object:
        """See `ApiCore.delete`."""
        rt = self._served(rt)
        deletion.check_policy(propagation_policy)
        current = self._store.get(self._key(rt, namespace, name))
        if current is None:
            raise ApiError.not_found(rt.group, rt.plural, name)
        deletion.check_preconditions(rt, current.obj, preconditions)
        if is_namespace(rt) and name in SYSTEM_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )
        plan = deletion.plan_delete(rt, current.obj, policy=propagation_policy, grace=grace_period_seconds)
        if plan.remove:
            return _out(self._remove(current, plan.obj), rt)
        if plan.updated:
            return _out(self._put(current.key, plan.obj, current), rt)
        return _out(current, rt)

    # -- commit -------------------------------------------------------------------------------

    def _put(self, key: Key, obj: Object, prev: Entry | None) -> Entry:
        try:
            entry = self._store.put(key, obj)
        except StoreError as exc:
            raise ApiError.internal(str(exc)) from exc
        self._publish(Change("ADDED" if prev is None else "MODIFIED", entry, prev))
        return entry

    def _remove(self, current: Entry, final: Object) -> Entry:
        try:
            entry = self._store.remove(current.key, final)
        except StoreError as exc:
            raise ApiError.internal(str(exc)) from exc
        self._publish(Change("DELETED", entry, current))
        return entry

    def _publish(self, change: Change) -> None:
        self._cache.publish(change)
        for controller in self._controllers:
            try:
                controller.observe(change)
            except Exception:
                # The write is committed; a controller's bookkeeping failure must not undo it.
                _log.exception("%r failed to observe %s %s", controller, change.type, change.entry.key)

    # -- helpers ------------------------------------------------------------------------------

    def _served(self, rt: ResourceType) -> ResourceType:
        served = self._registry.get(rt.group, rt.version, rt.plural)
        if served is None:
            path = f"{rt.group}/{rt.version}/{rt.plural}" if rt.group else f"{rt.version}/{rt.plural}"
            raise ApiError.path_not_found(path)
        return served

    @staticmethod
    def _key(rt: ResourceType, namespace: str | None, name: str) -> Key:
        if rt.namespaced:
            if not namespace:
                raise ApiError.bad_request(f"a namespace is required for {rt.plural}")
            return Key(rt.group, rt.plural, namespace, name)
        return Key(rt.group, rt.plural, "", name)


def _open_store(data_dir: Path) -> Store:
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return Store(data_dir / "apiserver.db")
    except StoreError as exc:
        raise ApiError.internal(str(exc)) from exc


def _out(entry: Entry, rt: ResourceType) -> Object:
    """A caller-owned copy of a stored object, in the requested version."""
    obj: Object = json.loads(entry.text)
    obj["apiVersion"] = rt.api_version
    return obj
