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
    def registry(self) -> ResourceRegistry: ...

    async def create(
        self, rt: ResourceType, namespace: str | None, obj: Object, *, dry_run: bool = False
    ) -> Object: ...

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Object: ...

    async def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Object], str]:
        """Returns the matching items and the list's resourceVersion."""
        ...

    async def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: Object,
        *,
        subresource: str | None = None,
    ) -> Object: ...

    async def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: PatchType,
        *,
        subresource: str | None = None,
    ) -> Object: ...

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
        """Deletes (or starts deleting) an object; returns its last state."""
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
    ) -> AsyncIterator[WatchEvent]: ...


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
