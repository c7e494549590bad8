"""Discovery documents: what groups, versions and resources the server serves.

Both the legacy form (`APIVersions`, `APIGroupList`, `APIGroup`, `APIResourceList`) and the
aggregated form (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) that kubectl asks for first
are derived from the `ResourceRegistry`, so CRDs appear as soon as the core registers them.
"""

from __future__ import annotations

from typing import Any

from kaptain.cluster.apiserver.resources import ResourceRegistry, ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SERVER_VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0+kaptain"}

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# Verbs of each subresource, as the Kubernetes apiserver advertises them.
_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "log": ["get"],
    "finalize": ["update"],
}


def version_info() -> dict[str, Any]:
    """Returns the `/version` document (kubectl compares its own minor version with it)."""
    return {
        **SERVER_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "python",
        "platform": "linux/amd64",
    }


def wants_aggregated(accept: str) -> bool:
    """Whether an `Accept` header asks for aggregated discovery v2 (kubectl 1.30+ does).

    Args:
        accept: The request's `Accept` header.

    Returns:
        True when the v2 `APIGroupDiscoveryList` form is acceptable.
    """
    for entry in accept.split(","):
        params = {p.strip() for p in entry.split(";")[1:]}
        if {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= params:
            return True
    return False


def api_versions() -> dict[str, Any]:
    """Returns the legacy `/api` document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group(registry: ResourceRegistry, group: str) -> dict[str, Any] | None:
    """Returns the `APIGroup` document of one named group.

    Args:
        registry: The served resources.
        group: The group name.

    Returns:
        The document, or `None` when the group is not served.
    """
    versions = registry.groups().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_body(group, versions)}


def api_group_list(registry: ResourceRegistry) -> dict[str, Any]:
    """Returns the legacy `/apis` document listing every named group."""
    groups = [_group_body(g, vs) for g, vs in sorted(registry.groups().items()) if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    """Returns the `APIResourceList` of one group version, subresources included.

    Args:
        registry: The served resources.
        group: The group ("" for core).
        version: The version.

    Returns:
        The document, or `None` when the group version is not served.
    """
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": _singular(rt),
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": _VERBS,
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in sorted(rt.subresources):
            resources.append(
                {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": _subresource_kind(rt, sub),
                    "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def aggregated(registry: ResourceRegistry, *, legacy: bool) -> dict[str, Any]:
    """Returns the aggregated discovery document for `/api` (legacy) or `/apis`.

    Args:
        registry: The served resources.
        legacy: True for `/api` (the core group only), False for `/apis` (all named groups).

    Returns:
        An `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`.
    """
    items: list[dict[str, Any]] = []
    for group, versions in sorted(registry.groups().items()):
        if (group == "") != legacy:
            continue
        version_docs = []
        for version in _preferred_first(versions):
            types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
            version_docs.append(
                {
                    "version": version,
                    "resources": [_aggregated_resource(rt) for rt in types],
                    "freshness": "Current",
                }
            )
        metadata: dict[str, Any] = {"name": group} if group else {}
        items.append({"metadata": metadata, "versions": version_docs})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": gvk,
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": _singular(rt),
        "verbs": _VERBS,
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.subresources:
        entry["subresources"] = [
            {
                "subresource": sub,
                "responseKind": {**gvk, "kind": _subresource_kind(rt, sub)},
                "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
            }
            for sub in sorted(rt.subresources)
        ]
    return entry


def _group_body(group: str, versions: list[str]) -> dict[str, Any]:
    ordered = _preferred_first(versions)
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered],
        "preferredVersion": {"groupVersion": f"{group}/{ordered[0]}", "version": ordered[0]},
    }


def _preferred_first(versions: list[str]) -> list[str]:
    """Orders versions the way Kubernetes prefers them: GA, then beta, then alpha, newest first."""

    def key(version: str) -> tuple[int, int, int]:
        body = version[1:] if version.startswith("v") else version
        major, stage, minor = body, 3, 0
        for marker, rank in (("alpha", 1), ("beta", 2)):
            if marker in body:
                major, _, rest = body.partition(marker)
                stage, minor = rank, int(rest) if rest.isdigit() else 0
        return (-stage, -(int(major) if major.isdigit() else 0), -minor)

    return sorted(versions, key=key)


def _singular(rt: ResourceType) -> str:
    return rt.singular or rt.kind.lower()


def _subresource_kind(rt: ResourceType, sub: str) -> str:
    if sub == "scale":
        return "Scale"
    return rt.kind
