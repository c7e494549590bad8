"""Validation of every write, after defaults: the `Validate`/`ValidateUpdate` step of Kubernetes.

Built-in kinds are checked by `validation.validate_builtin` (metadata with the kind's name rule,
plus the kind's fields) and by the update rules of the kinds with immutable parts. Custom
resources are checked like apiextensions-apiserver does: prune unknown fields, apply the schema's
defaults, validate against the schema, and validate the metadata.
"""

from __future__ import annotations

from typing import Any

from kaptain.cluster.apiserver import crds
from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.schema import StructuralSchema
from kaptain.cluster.apiserver.validation import (
    BUILTIN_KINDS,
    name_rule_for,
    validate_builtin,
    validate_object_meta,
)

Object = dict[str, Any]
Cause = dict[str, str]

# Fields of a pod's spec that an update may change (`ValidatePodUpdate`); spec.nodeName may be set
# once, which is how the kubelet of this single-node cluster binds a pod (there is no scheduler).
_POD_MUTABLE = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations`"


def _masked_pod_spec(spec: Any, node_name: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    out = dict(spec)
    for group in ("containers", "initContainers"):
        if isinstance(out.get(group), list):
            out[group] = [{**c, "image": None} if isinstance(c, dict) else c for c in out[group]]
    out.pop("activeDeadlineSeconds", None)
    out.pop("tolerations", None)
    out["nodeName"] = node_name
    return out


def _pod_update_causes(new: Object, old: Object) -> list[Cause]:
    old_node = (old.get("spec") or {}).get("nodeName")
    new_node = (new.get("spec") or {}).get("nodeName")
    if old_node and new_node != old_node:
        return [fe.forbidden("spec.nodeName", "may not be changed once set")]
    if _masked_pod_spec(new.get("spec"), None) != _masked_pod_spec(old.get("spec"), None):
        return [fe.forbidden("spec", f"pod updates may not change fields other than {_POD_MUTABLE}")]
    return []


def _job_update_causes(new: Object, old: Object) -> list[Cause]:
    causes: list[Cause] = []
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if spec.get("selector") != old_spec.get("selector"):
        causes.append(fe.invalid("spec.selector", spec.get("selector"), "field is immutable"))
    # The pod template of a suspended job may change (so a queue can adjust it before it starts).
    if spec.get("template") != old_spec.get("template") and not old_spec.get("suspend"):
        causes.append(fe.invalid("spec.template", spec.get("template"), "field is immutable"))
    if spec.get("completions") != old_spec.get("completions") and spec.get("completionMode") != "Indexed":
        causes.append(fe.invalid("spec.completions", spec.get("completions"), "field is immutable"))
    return causes


def _update_causes(rt: ResourceType, new: Object, old: Object) -> list[Cause]:
    key = (rt.group, rt.plural)
    if key == ("", "pods"):
        return _pod_update_causes(new, old)
    if key == ("batch", "jobs"):
        return _job_update_causes(new, old)
    if key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        return crds.validate_crd_update(new, old)
    return []


def _is_cleanup_finalizer_cause(cause: Cause) -> bool:
    # apiextensions objects are validated with the generic ObjectMeta rules, which allow a finalizer
    # without a '/'; the core-API rule ("standard finalizer name") must not reject the finalizer the
    # CRD life cycle itself adds.
    return cause.get("field") == "metadata.finalizers" and f'"{crds.CLEANUP_FINALIZER}"' in cause.get(
        "message", ""
    )


class Admission:
    """Validates objects before they are stored; caches the compiled schema of each CRD version."""

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, str, str], tuple[dict[str, Any], StructuralSchema]] = {}

    def _structural(self, rt: ResourceType, schema: dict[str, Any]) -> StructuralSchema:
        path = (rt.group, rt.version, rt.plural)
        cached = self._schemas.get(path)
        # Identity, not equality: a CRD write makes a new schema object, and comparing two large
        # schemas (InferenceService's is 2 MB) would cost more than it saves.
        if cached is not None and cached[0] is schema:
            return cached[1]
        compiled = StructuralSchema(schema)
        self._schemas[path] = (schema, compiled)
        return compiled

    def admit(self, rt: ResourceType, obj: Object, old: Object | None) -> list[Cause]:
        """Validates (and, for custom resources, prunes and defaults) an object about to be stored.

        Args:
            rt: The object's resource.
            obj: The object after the strategy's preparation; custom resources are pruned and
                defaulted in place.
            old: The stored object for an update, None for a create.

        Returns:
            The causes of a 422; empty when the object may be stored.
        """
        if rt.builtin:
            if rt.kind in BUILTIN_KINDS:
                causes = validate_builtin(rt.kind, obj)
                if rt.kind == "CustomResourceDefinition":
                    causes = [c for c in causes if not _is_cleanup_finalizer_cause(c)]
            else:
                causes = validate_object_meta(
                    obj, namespaced=rt.namespaced, name_rule=name_rule_for(rt.kind), builtin=True
                )
            if old is not None:
                causes.extend(_update_causes(rt, obj, old))
            return causes
        causes = []
        if rt.schema is not None:
            structural = self._structural(rt, rt.schema)
            structural.prune(obj)
            structural.apply_defaults(obj)
            causes.extend(structural.validate(obj))
        causes.extend(validate_object_meta(obj, namespaced=rt.namespaced, name_rule="subdomain"))
        return causes
