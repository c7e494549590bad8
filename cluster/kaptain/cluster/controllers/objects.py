"""Small helpers on plain Kubernetes objects: keys, owner references, times, label selectors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.apiserver.resources import ResourceType


@dataclass(frozen=True, order=True)
class Key:
    """The work-queue key of a namespaced object."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def of(cls, obj: Object) -> Key:
        """The key of an object.

        Args:
            obj: An object with `metadata.name` (and `metadata.namespace`).

        Returns:
            Its key.
        """
        meta = obj.get("metadata") or {}
        return cls(str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def meta(obj: Object) -> dict[str, Any]:
    """The object's metadata, created empty if missing."""
    result: dict[str, Any] = obj.setdefault("metadata", {})
    return result


def uid_of(obj: Object) -> str:
    """The object's `metadata.uid` ("" if unset)."""
    return str((obj.get("metadata") or {}).get("uid") or "")


def is_deleting(obj: Object) -> bool:
    """Whether the object has a `deletionTimestamp`."""
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def controller_ref(owner: Object, rt: ResourceType) -> dict[str, Any]:
    """The ownerReference a controller puts on what it creates.

    Args:
        owner: The owning object.
        rt: Its resource type.

    Returns:
        An ownerReference with `controller` and `blockOwnerDeletion` set.
    """
    return {
        "apiVersion": rt.api_version,
        "kind": rt.kind,
        "name": str(owner["metadata"]["name"]),
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Object) -> dict[str, Any] | None:
    """The ownerReference with `controller: true`, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            result: dict[str, Any] = ref
            return result
    return None


def is_controlled_by(obj: Object, owner_uid: str) -> bool:
    """Whether `obj`'s controller reference points at the object with `owner_uid`."""
    ref = controller_of(obj)
    return ref is not None and bool(owner_uid) and str(ref.get("uid") or "") == owner_uid


def now() -> dt.datetime:
    """The current time in UTC, truncated to seconds as `metav1.Time` serialises it."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def format_time(value: dt.datetime) -> str:
    """Formats a time as Kubernetes does (`2026-01-01T10:00:00Z`).

    Args:
        value: An aware datetime.

    Returns:
        RFC 3339 in UTC with a `Z` suffix and whole seconds.
    """
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_text() -> str:
    """`format_time(now())`."""
    return format_time(now())


def parse_time(text: str | None) -> dt.datetime | None:
    """Parses an RFC 3339 time as written by Kubernetes.

    Args:
        text: The time, or None.

    Returns:
        An aware datetime, or None for None, "" or an unparsable value.
    """
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def seconds_since(text: str | None, reference: dt.datetime | None = None) -> float | None:
    """Seconds elapsed since an RFC 3339 time.

    Args:
        text: The time.
        reference: "Now"; defaults to the current time (with sub-second precision).

    Returns:
        The elapsed seconds, or None when `text` is not a time.
    """
    start = parse_time(text)
    if start is None:
        return None
    current = reference or dt.datetime.now(dt.UTC)
    return (current - start).total_seconds()


def format_selector(labels: dict[str, str]) -> str:
    """A label selector string matching all `labels`, keys sorted as `metav1.FormatLabelSelector`."""
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))
