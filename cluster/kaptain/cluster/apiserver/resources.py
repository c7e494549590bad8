"""Descriptions of the resource kinds the API server serves, built in or from CRDs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PrinterColumn:
    """One `additionalPrinterColumns` entry, used for `kubectl get` tables.

    Built-in kinds whose kubectl columns are not a plain JSONPath (a pod's "Ready" is "1/2", its
    "Status" is derived from container states) carry `compute`, which maps the object to the cell
    value; when it is set it takes precedence over `json_path`.
    """

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""
    compute: Callable[[dict[str, Any]], Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class ScaleSubresource:
    """A CRD's `subresources.scale`: where the replica counts live in the custom resource."""

    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str = ""


@dataclass(frozen=True)
class ResourceType:
    """A served resource: one (group, version, plural) triple.

    `schema` is the CRD's `openAPIV3Schema` for custom resources (None for built-ins, which are
    validated by code). `subresources` holds "status", "scale" and, for pods, "log".
    """

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    printer_columns: tuple[PrinterColumn, ...] = ()
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    builtin: bool = True
    scale: ScaleSubresource | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


class ResourceRegistry:
    """The set of served resources, looked up by (group, version, plural) or by apiVersion+kind.

    Built-in kinds are registered at start; CRDs add and remove entries while the server runs.
    """

    def __init__(self, types: list[ResourceType] | None = None) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        for rt in types or []:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._by_path[(rt.group, rt.version, rt.plural)] = rt

    def remove(self, group: str, version: str, plural: str) -> None:
        self._by_path.pop((group, version, plural), None)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def for_resource(self, group: str, plural: str) -> ResourceType | None:
        """Returns one served version of (group, plural) (the first registered), or None if none is served.

        Objects are stored once per (group, plural) whatever version wrote them, so any served version
        can be used to address a stored object.
        """
        for (g, _, p), rt in self._by_path.items():
            if g == group and p == plural:
                return rt
        return None

    def for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._by_path.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        return sorted(self._by_path.values(), key=lambda r: (r.group, r.version, r.plural))

    def groups(self) -> dict[str, list[str]]:
        """Maps each API group ("" for core) to its served versions."""
        out: dict[str, list[str]] = {}
        for rt in self.all():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out
