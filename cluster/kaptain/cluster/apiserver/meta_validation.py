"""Validation of `metadata` (`ObjectMeta`) as `apimachinery/pkg/api/validation` does it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.names import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    is_valid_path_segment_name,
)

__all__ = [
    "NAME_RULES",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "validate_annotations",
    "validate_finalizers",
    "validate_labels",
    "validate_name",
    "validate_object_meta",
    "validate_owner_references",
]

Cause = dict[str, str]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

# How each kind's names are checked (`ValidateNameFunc`).
NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    "subdomain": is_dns1123_subdomain,
    "label": is_dns1123_label,
    "dns1035": is_dns1035_label,
    "path_segment": is_valid_path_segment_name,
}


def validate_name(name: str, rule: str, *, prefix: bool = False) -> list[str]:
    """Checks a name (or a `generateName` prefix) against a naming rule.

    Args:
        name: The name.
        rule: One of `NAME_RULES` (`subdomain`, `label`, `dns1035`, `path_segment`).
        prefix: Whether `name` is a `generateName` prefix: a trailing '-' is then allowed, since
            random characters follow it (`maskTrailingDash`).

    Returns:
        The problems; empty when valid.

    Raises:
        KeyError: For an unknown rule.
    """
    check = NAME_RULES[rule]
    if prefix and rule != "path_segment" and len(name) > 1 and name.endswith("-"):
        name = name[:-1] + "a"
    return check(name)


def _string_map(value: Any, path: str, causes: list[Cause]) -> dict[str, str]:
    """The entries of a `map[string]string`; non-string values become causes."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        causes.append(fe.invalid(path, value, "must be a map of strings"))
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, str):
            out[str(k)] = v
        else:
            causes.append(fe.invalid(fe.key(path, str(k)), v, "must be a string"))
    return out


def validate_labels(labels: Any, path: str = "metadata.labels") -> list[Cause]:
    """`ValidateLabels`: keys are qualified names and values valid label values.

    Args:
        labels: The label map.
        path: Its field path.

    Returns:
        The causes.
    """
    causes: list[Cause] = []
    for k, v in _string_map(labels, path, causes).items():
        causes.extend(fe.invalid(path, k, msg) for msg in is_qualified_name(k))
        causes.extend(fe.invalid(path, v, msg) for msg in is_valid_label_value(v))
    return causes


def validate_annotations(annotations: Any, path: str = "metadata.annotations") -> list[Cause]:
    """`ValidateAnnotations`: keys are qualified names (case-insensitive), total size at most 256 KiB.

    Args:
        annotations: The annotation map.
        path: Its field path.

    Returns:
        The causes.
    """
    causes: list[Cause] = []
    entries = _string_map(annotations, path, causes)
    total = 0
    for k, v in entries.items():
        causes.extend(fe.invalid(path, k, msg) for msg in is_qualified_name(k.lower()))
        total += len(k.encode()) + len(v.encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(fe.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def validate_owner_references(refs: Any, path: str = "metadata.ownerReferences") -> list[Cause]:
    """`ValidateOwnerReferences`: apiVersion, kind, name and uid set; at most one controller.

    Args:
        refs: The owner reference list.
        path: Its field path.

    Returns:
        The causes.
    """
    if refs is None:
        return []
    if not isinstance(refs, list):
        return [fe.invalid(path, refs, "must be a list")]
    causes: list[Cause] = []
    controller = ""
    for ref in refs:
        if not isinstance(ref, Mapping):
            causes.append(fe.invalid(path, ref, "must be an object"))
            continue
        api_version = str(ref.get("apiVersion") or "")
        if not api_version.rpartition("/")[2]:
            causes.append(fe.invalid(fe.child(path, "apiVersion"), api_version, "version must not be empty"))
        for name in ("kind", "name", "uid"):
            if not ref.get(name):
                causes.append(
                    fe.invalid(fe.child(path, name), str(ref.get(name) or ""), f"{name} must not be empty")
                )
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if controller:
                causes.append(
                    fe.invalid(
                        path,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in references for '
                        f"{controller} and {current}",
                    )
                )
            else:
                controller = current
    return causes


_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def validate_finalizers(
    finalizers: Any, path: str = "metadata.finalizers", *, builtin: bool = False
) -> list[Cause]:
    """`ValidateFinalizers`: qualified names; `orphan` and `foregroundDeletion` not both.

    Args:
        finalizers: The finalizer list.
        path: Its field path.
        builtin: Apply the core API's extra rule that a finalizer without a '/' must be a standard
            one (`kubernetes`, `orphan`, `foregroundDeletion`).

    Returns:
        The causes.
    """
    if finalizers is None:
        return []
    if not isinstance(finalizers, list):
        return [fe.invalid(path, finalizers, "must be a list of strings")]
    causes: list[Cause] = []
    for finalizer in finalizers:
        if not isinstance(finalizer, str):
            causes.append(fe.invalid(path, finalizer, "must be a string"))
            continue
        causes.extend(fe.invalid(path, finalizer, msg) for msg in is_qualified_name(finalizer))
        if builtin and "/" not in finalizer and finalizer not in _STANDARD_FINALIZERS:
            causes.append(
                fe.invalid(
                    path, finalizer, "name is neither a standard finalizer name nor is it fully qualified"
                )
            )
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        causes.append(
            fe.invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    return causes


def validate_object_meta(
    obj: Mapping[str, Any], *, namespaced: bool, name_rule: str = "subdomain", builtin: bool = False
) -> list[Cause]:
    """`ValidateObjectMetaAccessor`: names, namespace, labels, annotations, owners, finalizers.

    The core generates `name` from `generateName` and fills `namespace` from the request before
    calling this (as kube-apiserver does); a missing name is accepted while a `generateName` is
    present. Whether the body's namespace matches the URL's is the core's check.

    Args:
        obj: The object (its `metadata` is validated).
        namespaced: Whether the kind is namespaced (a namespace is then required, else forbidden).
        name_rule: How names are checked, one of `NAME_RULES`.
        builtin: Apply the core API's stricter finalizer rule (see `validate_finalizers`).

    Returns:
        The causes, with field paths under `metadata`.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return [fe.required("metadata.name", "name or generateName is required")]
    causes: list[Cause] = []
    name = meta.get("name") or ""
    generate_name = meta.get("generateName") or ""
    if not isinstance(name, str) or not isinstance(generate_name, str):
        return [fe.invalid("metadata.name", name, "must be a string")]
    if generate_name:
        causes.extend(
            fe.invalid("metadata.generateName", generate_name, msg)
            for msg in validate_name(generate_name, name_rule, prefix=True)
        )
    if name:
        causes.extend(fe.invalid("metadata.name", name, msg) for msg in validate_name(name, name_rule))
    elif not generate_name:
        causes.append(fe.required("metadata.name", "name or generateName is required"))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            causes.append(fe.required("metadata.namespace"))
        else:
            causes.extend(
                fe.invalid("metadata.namespace", namespace, msg) for msg in is_dns1123_label(str(namespace))
            )
    elif namespace:
        causes.append(fe.forbidden("metadata.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool) and generation < 0:
        causes.append(fe.invalid("metadata.generation", generation, "must be greater than or equal to 0"))
    causes.extend(validate_labels(meta.get("labels")))
    causes.extend(validate_annotations(meta.get("annotations")))
    causes.extend(validate_owner_references(meta.get("ownerReferences")))
    causes.extend(validate_finalizers(meta.get("finalizers"), builtin=builtin))
    return causes
