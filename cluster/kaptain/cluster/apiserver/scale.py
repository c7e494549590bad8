"""The `scale` subresource of custom resources (`autoscaling/v1` `Scale`).

A CRD's `subresources.scale` names where the desired replicas (`specReplicasPath`), the observed
replicas (`statusReplicasPath`) and the pod selector (`labelSelectorPath`) live in its objects;
the `Scale` view reads them, and writing a `Scale` sets the desired replicas.
"""

from __future__ import annotations

import copy
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError, cause
from kaptain.cluster.apiserver.resources import ResourceType, ScaleSubresource

Object = dict[str, Any]


def _spec(rt: ResourceType) -> ScaleSubresource:
    if rt.scale is None:
        raise ApiError.path_not_found(f"{rt.plural}/scale")
    return rt.scale


def _fields(path: str) -> list[str]:
    return [p for p in path.strip().lstrip(".").split(".") if p]


def _read(obj: Object, path: str) -> Any:
    node: Any = obj
    for name in _fields(path):
        if not isinstance(node, dict) or name not in node:
            return None
        node = node[name]
    return node


def scale_of(rt: ResourceType, obj: Object) -> Object:
    """The `Scale` view of a custom resource.

    Args:
        rt: The resource type (with a scale subresource).
        obj: The object.

    Returns:
        The `autoscaling/v1` `Scale`.

    Raises:
        ApiError: 404 when the type has no scale subresource.
    """
    spec = _spec(rt)
    meta = obj.get("metadata", {})
    scale: Object = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": int(_read(obj, spec.spec_replicas_path) or 0)},
        "status": {"replicas": int(_read(obj, spec.status_replicas_path) or 0)},
    }
    if spec.label_selector_path:
        selector = _read(obj, spec.label_selector_path)
        if isinstance(selector, str):
            scale["status"]["selector"] = selector
    return scale


def apply_scale(rt: ResourceType, obj: Object, scale: Any) -> Object:
    """Sets a custom resource's desired replicas from a `Scale`.

    Args:
        rt: The resource type (with a scale subresource).
        obj: The current object.
        scale: The `Scale` the client sent.

    Returns:
        A copy of the object with the replicas set and, when the `Scale` carries one, its
        resourceVersion (so a stale `Scale` is a 409 Conflict on update).

    Raises:
        ApiError: 400 for a body that is not a Scale, 422 for a negative or non-integer replicas.
    """
    spec = _spec(rt)
    if not isinstance(scale, dict) or scale.get("kind", "Scale") != "Scale":
        raise ApiError.bad_request("the request body must be an autoscaling/v1 Scale")
    replicas = (scale.get("spec") or {}).get("replicas")
    name = str(obj.get("metadata", {}).get("name", ""))
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError.invalid(
            "autoscaling", "Scale", name, [cause("spec.replicas", "must be greater than or equal to 0")]
        )
    out = copy.deepcopy(obj)
    fields = _fields(spec.spec_replicas_path)
    node = out
    for field in fields[:-1]:
        child = node.get(field)
        if not isinstance(child, dict):
            child = node[field] = {}
        node = child
    node[fields[-1]] = replicas
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv:
        out.setdefault("metadata", {})["resourceVersion"] = rv
    return out
