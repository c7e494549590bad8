"""Validation of CustomResourceDefinitions: names, versions and structural schemas.

Only what the server relies on to serve a CRD: a well-formed group and names, exactly one storage
version, and a structural `openAPIV3Schema` per version so that pruning and defaulting are defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.decoded import Cause, as_list, as_object, as_str, check_one_of
from kaptain.cluster.apiserver.names import is_dns1035_label, is_dns1123_subdomain

__all__ = ["validate_crd"]

# -- custom resource definitions -----------------------------------------------------------------


def validate_crd(obj: Mapping[str, Any]) -> list[Cause]:
    """`ValidateCustomResourceDefinition` for the rules listed in the module docstring.

    Args:
        obj: The CustomResourceDefinition.

    Returns:
        The causes; empty when valid.
    """
    causes: list[Cause] = []
    spec = as_object(obj.get("spec"), "spec", causes)
    group = as_str(spec.get("group"), "spec.group", causes)
    if not group:
        causes.append(fe.required("spec.group"))
    else:
        causes.extend(fe.invalid("spec.group", group, m) for m in is_dns1123_subdomain(group))
        if "." not in group:
            causes.append(fe.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = as_str(spec.get("scope"), "spec.scope", causes)
    if not scope:
        causes.append(fe.required("spec.scope"))
    else:
        check_one_of(scope, ("Cluster", "Namespaced"), "spec.scope", causes)
    names = as_object(spec.get("names"), "spec.names", causes)
    plural = as_str(names.get("plural"), "spec.names.plural", causes)
    if not plural:
        causes.append(fe.required("spec.names.plural"))
    else:
        causes.extend(fe.invalid("spec.names.plural", plural, m) for m in is_dns1035_label(plural))
    for optional in ("singular", "listKind"):
        value = as_str(names.get(optional), f"spec.names.{optional}", causes)
        if value:
            causes.extend(
                fe.invalid(f"spec.names.{optional}", value, m) for m in is_dns1035_label(value.lower())
            )
    kind = as_str(names.get("kind"), "spec.names.kind", causes)
    if not kind:
        causes.append(fe.required("spec.names.kind"))
    else:
        causes.extend(fe.invalid("spec.names.kind", kind, m) for m in is_dns1035_label(kind.lower()))
    for i, short in enumerate(as_list(names.get("shortNames"), "spec.names.shortNames", causes)):
        text = as_str(short, fe.index("spec.names.shortNames", i), causes)
        causes.extend(fe.invalid("spec.names.shortNames", text, m) for m in is_dns1035_label(text))
    name = str((obj.get("metadata") or {}).get("name") or "")
    if plural and group and name != f"{plural}.{group}":
        causes.append(fe.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    causes.extend(_validate_crd_versions(spec.get("versions"), causes))
    return causes


def _validate_crd_versions(versions: Any, causes: list[Cause]) -> list[Cause]:
    out: list[Cause] = []
    items = as_list(versions, "spec.versions", causes)
    if not items:
        return [fe.invalid("spec.versions", items, "must have exactly one version marked as storage version")]
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(items):
        item = fe.index("spec.versions", i)
        entry = as_object(version, item, causes)
        name = as_str(entry.get("name"), fe.child(item, "name"), causes)
        if not name:
            out.append(fe.required(fe.child(item, "name")))
        else:
            out.extend(fe.invalid(fe.child(item, "name"), name, m) for m in is_dns1035_label(name))
            if name in seen:
                out.append(fe.duplicate(fe.child(item, "name"), name))
            seen.add(name)
        for flag in ("served", "storage"):
            if not isinstance(entry.get(flag), bool):
                out.append(fe.required(fe.child(item, flag)))
        storage += entry.get("storage") is True
        schema = as_object(entry.get("schema"), fe.child(item, "schema"), causes).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            out.append(
                fe.required(fe.child(fe.child(item, "schema"), "openAPIV3Schema"), "schemas are required")
            )
        else:
            out.extend(_structural_causes(schema, f"{item}.schema.openAPIV3Schema", "root"))
    if storage != 1:
        out.append(
            fe.invalid("spec.versions", items, "must have exactly one version marked as storage version")
        )
    return out


_EMPTY_TYPE = {
    "root": "must not be empty at the root",
    "items": "must not be empty for specified array items",
    "field": "must not be empty for specified object fields",
}


def _structural_causes(schema: Any, path: str, level: str) -> list[Cause]:
    """The structural-schema rules the server needs to prune and default (`schema/validation.go`):
    every node has a type unless it is int-or-string, an embedded resource or preserves unknown
    fields; the root is an object; `properties` and `additionalProperties` exclude each other."""
    if not isinstance(schema, dict):
        return [fe.invalid(path, schema, "must be an object")]
    causes: list[Cause] = []
    declared = schema.get("type")
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    untyped_ok = (
        int_or_string
        or schema.get("x-kubernetes-embedded-resource") is True
        or schema.get("x-kubernetes-preserve-unknown-fields") is True
    )
    if not declared and not untyped_ok:
        causes.append(fe.required(fe.child(path, "type"), _EMPTY_TYPE[level]))
    elif level == "root" and declared != "object":
        causes.append(fe.invalid(fe.child(path, "type"), declared or "", "must be object at the root"))
    if int_or_string and declared:
        causes.append(
            fe.invalid(
                fe.child(path, "type"), declared, "must be empty if x-kubernetes-int-or-string is true"
            )
        )
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    if properties and isinstance(additional, dict):
        causes.append(
            fe.forbidden(
                fe.child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if isinstance(properties, dict):
        for name, sub in properties.items():
            causes.extend(_structural_causes(sub, fe.key(fe.child(path, "properties"), name), "field"))
    if isinstance(schema.get("items"), dict):
        causes.extend(_structural_causes(schema["items"], fe.child(path, "items"), "items"))
    if isinstance(additional, dict):
        causes.extend(_structural_causes(additional, fe.child(path, "additionalProperties"), "field"))
    return causes
