"""Parsing of Kubernetes REST paths into what they address.

Follows the apiserver's own request-info rules: `/api/v1/...` is the core group,
`/apis/<group>/<version>/...` the others; `namespaces/<ns>/<plural>/...` scopes a request to a
namespace unless the part after the namespace name is a namespace subresource; a leading `watch/`
is the legacy watch form.
"""

from __future__ import annotations

from dataclasses import dataclass

# Parts after `namespaces/<name>/` that are subresources of the Namespace itself, not a plural.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class Discovery:
    """A discovery document request.

    Attributes:
        group: The API group ("" for core); `None` for the group list `/apis` or `/api`.
        version: The version, for an `APIResourceList`; `None` for the group itself.
        legacy: True for paths under `/api` (the core group).
    """

    group: str | None
    version: str | None
    legacy: bool


@dataclass(frozen=True)
class ResourcePath:
    """A request addressed to a resource collection, an object or an object's subresource.

    Attributes:
        group: API group ("" for core).
        version: API version.
        plural: The resource's plural name.
        namespace: The namespace from the path, or `None`.
        name: The object's name for item requests.
        subresource: "status", "log", "scale", ... or `None`.
        legacy_watch: True when the path started with `watch/`.
    """

    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    legacy_watch: bool = False


def parse(path: str) -> Discovery | ResourcePath | None:
    """Parses a request path.

    Args:
        path: The URL path, e.g. `/apis/batch/v1/namespaces/default/jobs/pi/status`.

    Returns:
        What the path addresses, or `None` when it is not an API path this server knows.
    """
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) == 1:
            return Discovery(None, None, legacy=True)
        if len(parts) == 2:
            return Discovery("", parts[1], legacy=True)
        return _resource("", parts[1], parts[2:])
    if parts[0] == "apis":
        if len(parts) == 1:
            return Discovery(None, None, legacy=False)
        if len(parts) == 2:
            return Discovery(parts[1], None, legacy=False)
        if len(parts) == 3:
            return Discovery(parts[1], parts[2], legacy=False)
        return _resource(parts[1], parts[2], parts[3:])
    return None


def _resource(group: str, version: str, rest: list[str]) -> ResourcePath | None:
    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace = rest[1]
        rest = rest[2:]
    if len(rest) > 3:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if legacy_watch and subresource is not None:
        return None
    return ResourcePath(group, version, plural, namespace, name, subresource, legacy_watch)
