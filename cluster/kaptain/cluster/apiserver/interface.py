"""The in-process contract between the API server core and its users.

The HTTP layer, the kubelet and the controllers all go through `ApiCore`, so every write gets the
same validation, resourceVersion bookkeeping, watch events and garbage collection whether it came
from kubectl or from a controller in the same process. Objects are plain JSON dicts, exactly as
they appear on the wire.

Semantics follow Kubernetes (https://kubernetes.io/docs/reference/using-api/api-concepts/):

- `resourceVersion` is one cluster-wide, strictly increasing integer rendered as a string.
- `create` fills `metadata.uid`, `creationTimestamp`, `resourceVersion`, `generation` (1),
  `namespace`; honours `generateName`; validates names (422) and, for custom resources, the CRD's
  `openAPIV3Schema` (prune unknown fields, apply defaults, then validate; 422 with causes).
- `update`/`patch` without `subresource` ignore `status` changes for kinds that have a status
  subresource and bump `generation` only when `spec` (everything except metadata and status)
  changed; with `subresource="status"` only `status` is taken. A `resourceVersion` in the body
  that is not the current one is a 409 Conflict.
- `delete` honours `propagationPolicy` (Background by default, Foreground, Orphan) and
  finalizers: an object with finalizers (or a pod bound to a node, see below) only gets
  `deletionTimestamp`/`deletionGracePeriodSeconds` set and is removed when its finalizers are gone.
  Pods with `spec.nodeName` set are finalised by the kubelet, which stops the containers and then
  calls `delete(..., grace_period_seconds=0)`; pods with no node are removed at once.
- `watch` yields events after `resource_version` (exclusive). `None` or "0" means: first the
  current state as ADDED events, then changes. A version older than the kept history raises
  `ApiError.gone` (410) before yielding anything. With `allow_bookmarks` a BOOKMARK event carrying
  only `metadata.resourceVersion` is sent periodically. The iterator ends after `timeout_seconds`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, TypedDict

from kaptain.cluster.apiserver.resources import ResourceRegistry, ResourceType

Object = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
PatchType = Literal[
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]


class WatchEvent(TypedDict):
    type: EventType
    object: Object


class ApiCore(Protocol):
    """What the API server core offers to the HTTP layer, the kubelet and the controllers.

    All methods raise `kaptain.cluster.apiserver.errors.ApiError` on failure. `namespace` is
    `None` for cluster-scoped kinds and for "all namespaces" in `list`/`watch`.
    """

    @property
    def registry(self) -> ResourceRegistry:
        """The served resources (built-in kinds and those of the stored CRDs)."""
        ...

    async def create(
        self, rt: ResourceType, namespace: str | None, obj: Object, *, dry_run: bool = False
    ) -> Object:
        """Creates an object.

        Args:
            rt: Its resource.
            namespace: The request's namespace (the body's, or "default", when None for a
                namespaced kind); ignored for cluster-scoped kinds.
            obj: The object (not modified).
            dry_run: Validate and default only; nothing is stored.

        Returns:
            The stored object.

        Raises:
            ApiError: 400 malformed body or namespace mismatch, 403 namespace terminating, 404
                namespace or resource not found, 405 CRD terminating, 409 AlreadyExists,
                422 Invalid.
        """
        ...

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Object:
        """Returns the object (a copy the caller owns).

        Raises:
            ApiError: 404 when it does not exist.
        """
        ...

    async def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Object], str]:
        """Lists objects, ordered by namespace and name.

        Args:
            rt: The resource.
            namespace: Only this namespace; None for all namespaces.
            label_selector: `?labelSelector=` text.
            field_selector: `?fieldSelector=` text.

        Returns:
            The matching items and the list's resourceVersion (to watch from).

        Raises:
            ApiError: 400 for a malformed selector or an unsupported field label.
        """
        ...

    async def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: Object,
        *,
        subresource: str | None = None,
    ) -> Object:
        """Replaces an object (or, with `subresource`, its `status` or a namespace's `finalize`).

        Args:
            rt: Its resource.
            namespace: Its namespace (None for cluster-scoped kinds).
            name: Its name.
            obj: The new object; a `metadata.resourceVersion` makes the update conditional.
            subresource: None, "status" or, for namespaces, "finalize".

        Returns:
            The stored object (unchanged, and no event, when the update changes nothing).

        Raises:
            ApiError: 400 name/namespace mismatch, 404 not found, 409 stale resourceVersion or uid,
                422 Invalid.
        """
        ...

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
        """Patches an object; the result is then stored as by `update`.

        Args:
            rt: Its resource.
            namespace: Its namespace (None for cluster-scoped kinds).
            name: Its name.
            patch: The decoded patch (a list for JSON patch; YAML text or an object for apply).
            patch_type: The request's content type.
            subresource: None or "status".

        Returns:
            The stored object.

        Raises:
            ApiError: as `update`; 404 for a missing object (except server-side apply, which
                creates it); 415 for strategic merge on a custom resource.
        """
        ...

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
        """Deletes (or starts deleting) an object.

        Args:
            rt: Its resource.
            namespace: Its namespace (None for cluster-scoped kinds).
            name: Its name.
            propagation_policy: "Background", "Foreground" or "Orphan"; None for the kind's default
                (Orphan for batch/v1 Jobs, as in Kubernetes; Background otherwise).
            grace_period_seconds: For pods on a node: how long they may take to stop.
            preconditions: `{"uid": ..., "resourceVersion": ...}` that must hold.

        Returns:
            The object's last state: with `deletionTimestamp` when it is not removed yet.

        Raises:
            ApiError: 400 unknown policy, 403 system namespace, 404 not found, 409 precondition.
        """
        ...

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
        """Watches a resource (see the module docstring for the semantics).

        The watch subscribes when it is first iterated; errors (400 malformed selector or version,
        404 resource not served, 410 version too old) are raised from that first step. A watch too
        slow to keep up ends with an ERROR event holding a 410 `Status`. Event objects are copies
        the caller owns.
        """
        ...


class LogSource(Protocol):
    """Where `pods/log` reads container output from (implemented by the kubelet)."""

    def read_log(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
    ) -> AsyncIterator[bytes]:
        """Yields the container's log as chunks of bytes; with `follow`, until it terminates.

        Raises `ApiError` 404 for an unknown pod, 400 when `container` is needed or unknown.
        """
        ...
