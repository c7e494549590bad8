"""CustomResourceDefinitions (apiextensions.k8s.io/v1): defaults, status, validation, served types.

What apiextensions-apiserver does when a CRD is written, minus conversion webhooks: the CRD is
defaulted (`listKind`, `singular`, conversion strategy), validated, given the cleanup finalizer
and the status conditions NamesAccepted and Established (names never conflict here: one CRD per
group/plural), and each served version becomes a `ResourceType` carrying its schema, subresources
and printer columns.
"""

from __future__ import annotations

from typing import Any

from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.resources import PrinterColumn, ResourceType, ScaleSubresource
from kaptain.cluster.apiserver.strategy import now, rfc3339

Object = dict[str, Any]
Cause = dict[str, str]

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


def _dict(value: Any) -> Object:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def group_plural(crd: Object) -> tuple[str, str]:
    """The (group, plural) a CRD defines."""
    spec = _dict(crd.get("spec"))
    return str(spec.get("group", "")), str(_dict(spec.get("names")).get("plural", ""))


def has_condition(crd: Object, kind: str) -> bool:
    """Whether the CRD's status has condition `kind` with status True."""
    return any(
        _dict(c).get("type") == kind and _dict(c).get("status") == "True"
        for c in _list(_dict(crd.get("status")).get("conditions"))
    )


def set_condition(crd: Object, kind: str, status: str, reason: str, message: str) -> None:
    """Sets one status condition, keeping its lastTransitionTime when its status is unchanged."""
    conditions = _list(crd.setdefault("status", {}).setdefault("conditions", []))
    for condition in conditions:
        if isinstance(condition, dict) and condition.get("type") == kind:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = rfc3339(now())
            condition.update({"status": status, "reason": reason, "message": message})
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "lastTransitionTime": rfc3339(now()),
            "reason": reason,
            "message": message,
        }
    )


def _default_names(names: Object) -> None:
    kind = str(names.get("kind", ""))
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")


def prepare_crd(crd: Object, old: Object | None) -> None:
    """Defaults a CRD and computes its status (what the CRD controllers would write).

    Args:
        crd: The CRD about to be stored; modified in place.
        old: The stored CRD for an update, None for a create.
    """
    spec = crd.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    names = spec.setdefault("names", {})
    if isinstance(names, dict):
        _default_names(names)
    spec.setdefault("conversion", {"strategy": "None"})
    meta = crd["metadata"]
    if old is None and not meta.get("deletionTimestamp"):
        finalizers = list(meta.get("finalizers") or [])
        if CLEANUP_FINALIZER not in finalizers:
            meta["finalizers"] = [*finalizers, CLEANUP_FINALIZER]
    status = crd.setdefault("status", {})
    if not isinstance(status, dict):
        status = crd["status"] = {}
    status["acceptedNames"] = dict(names) if isinstance(names, dict) else {}
    status.setdefault("conditions", [])
    set_condition(crd, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
    set_condition(crd, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted")
    stored = [str(v) for v in _list(_dict(old.get("status") if old else None).get("storedVersions"))]
    for version in _list(spec.get("versions")):
        if _dict(version).get("storage") is True and str(version.get("name")) not in stored:
            stored.append(str(version.get("name")))
    status["storedVersions"] = stored


def validate_crd_update(crd: Object, old: Object) -> list[Cause]:
    """The update rules of a CRD on top of `validation.validate_builtin` (which checks its content).

    Args:
        crd: The CRD about to be stored.
        old: The stored CRD.

    Returns:
        Causes for changes of the group, scope or plural, which would orphan stored objects.
    """
    causes: list[Cause] = []
    spec = _dict(crd.get("spec"))
    old_spec = _dict(old.get("spec"))
    for field in ("group", "scope"):
        if spec.get(field) != old_spec.get(field):
            causes.append(fe.invalid(f"spec.{field}", spec.get(field), "field is immutable"))
    plural = _dict(spec.get("names")).get("plural")
    if plural != _dict(old_spec.get("names")).get("plural"):
        causes.append(fe.invalid("spec.names.plural", plural, "field is immutable"))
    return causes


def _printer_columns(version: Object) -> tuple[PrinterColumn, ...]:
    raw = _list(version.get("additionalPrinterColumns"))
    if not raw:
        return (_AGE,)
    return tuple(
        PrinterColumn(
            name=str(_dict(c).get("name", "")),
            type=str(_dict(c).get("type", "string")),
            json_path=str(_dict(c).get("jsonPath", "")),
            description=str(_dict(c).get("description", "")),
            priority=int(_dict(c).get("priority") or 0),
            format=str(_dict(c).get("format", "")),
        )
        for c in raw
    )


def resource_types(crd: Object) -> list[ResourceType]:
    """The resource types a CRD serves: one per version with `served: true`.

    Args:
        crd: A stored (valid) CRD.

    Returns:
        The types, with `builtin=False`, the version's schema, subresources and printer columns.
    """
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    group, plural = group_plural(crd)
    out: list[ResourceType] = []
    for raw in _list(spec.get("versions")):
        version = _dict(raw)
        if version.get("served") is False:
            continue
        subresources = _dict(version.get("subresources"))
        scale = _dict(subresources.get("scale")) if "scale" in subresources else None
        out.append(
            ResourceType(
                group=group,
                version=str(version.get("name", "")),
                plural=plural,
                kind=str(names.get("kind", "")),
                namespaced=spec.get("scope") == "Namespaced",
                singular=str(names.get("singular") or str(names.get("kind", "")).lower()),
                short_names=tuple(str(s) for s in _list(names.get("shortNames"))),
                categories=tuple(str(c) for c in _list(names.get("categories"))),
                subresources=frozenset(k for k in ("status", "scale") if k in subresources),
                printer_columns=_printer_columns(version),
                schema=_dict(_dict(version.get("schema")).get("openAPIV3Schema")) or None,
                builtin=False,
                scale=None
                if scale is None
                else ScaleSubresource(
                    spec_replicas_path=str(scale.get("specReplicasPath", "")),
                    status_replicas_path=str(scale.get("statusReplicasPath", "")),
                    label_selector_path=str(scale.get("labelSelectorPath", "")),
                ),
            )
        )
    return out
