"""Request bodies: decoding, namespace defaulting and what an update may change.

These are the checks the generic registry of Kubernetes makes on every request body before the
kind's strategy sees it (`rest.BeforeCreate`, `rest.BeforeUpdate`, `ValidateObjectMetaUpdate`).
"""

from __future__ import annotations

from typing import Any

from kaptain.cluster.apiserver import strategy
from kaptain.cluster.apiserver.builtin import is_namespace
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.fielderrors import forbidden
from kaptain.cluster.apiserver.resources import ResourceType

Object = dict[str, Any]


def parse_resource_version(resource_version: str | None) -> int | None:
    if resource_version in (None, "", "0"):
        return None
    try:
        value = int(str(resource_version))
    except ValueError:
        raise ApiError.bad_request(f'invalid resource version "{resource_version}"') from None
    if value < 0:
        raise ApiError.bad_request(f'invalid resource version "{resource_version}"')
    return value


def decode_body(rt: ResourceType, obj: Any) -> Object:
    if not isinstance(obj, dict):
        raise ApiError.bad_request("the request body must be a JSON object")
    try:
        body: Object = strategy.copy_json(obj)
    except (TypeError, ValueError) as exc:
        raise ApiError.bad_request(f"the request body is not valid JSON: {exc}") from None
    api_version = body.get("apiVersion")
    if api_version not in (None, "") and api_version != rt.api_version:
        raise ApiError.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
        )
    kind = body.get("kind")
    if kind not in (None, "") and kind != rt.kind:
        raise ApiError.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    body["apiVersion"] = rt.api_version
    body["kind"] = rt.kind
    meta = body.get("metadata")
    if meta is None:
        meta = body["metadata"] = {}
    if not isinstance(meta, dict):
        raise ApiError.bad_request("metadata must be an object")
    return body


def create_namespace(rt: ResourceType, namespace: str | None, meta: Object) -> str | None:
    body_ns = meta.get("namespace") or None
    if not rt.namespaced:
        meta.pop("namespace", None)
        return None
    if namespace and body_ns and body_ns != namespace:
        raise ApiError.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    ns = str(namespace or body_ns or "default")
    meta["namespace"] = ns
    return ns


def merge_for_update(rt: ResourceType, old: Object, body: Object, subresource: str | None) -> Object:
    """The object to store: the body for a main-resource write, the old object plus the part a
    subresource write may change otherwise."""
    if subresource is None:
        new = body
        if rt.has_status:
            if "status" in old:
                new["status"] = strategy.copy_json(old["status"])
            else:
                new.pop("status", None)
        meta = new["metadata"]
        for field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
        ):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        meta["name"] = old["metadata"]["name"]
        meta.pop("managedFields", None)
        meta.pop("selfLink", None)
        if is_namespace(rt):
            # A namespace's spec.finalizers change only through the `finalize` subresource.
            new.setdefault("spec", {})["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])
        return new
    if subresource == "status" and rt.has_status:
        new = strategy.copy_object(old)
        if "status" in body:
            new["status"] = body["status"]
        else:
            new.pop("status", None)
        return new
    if subresource == "finalize" and is_namespace(rt):
        new = strategy.copy_object(old)
        finalizers = (body.get("spec") or {}).get("finalizers") or []
        new.setdefault("spec", {})["finalizers"] = list(finalizers)
        return new
    raise ApiError.path_not_found(f"{rt.plural}/{subresource}")


def finalizer_causes(old: Object, new: Object) -> list[dict[str, str]]:
    """A deleting object may lose finalizers but not gain new ones (Kubernetes ValidateObjectMetaUpdate)."""
    if not old["metadata"].get("deletionTimestamp"):
        return []
    before = set(old["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
    if not added:
        return []
    return [
        forbidden(
            "metadata.finalizers",
            f"no new finalizers can be added if the object is being deleted, found new finalizers {added!r}",
        )
    ]


def namespace_terminating(rt: ResourceType, namespace: str, name: str) -> ApiError:
    """The 403 for a create in a namespace that is being deleted (NamespaceLifecycle admission)."""
    qualified = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    details: dict[str, Any] = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    details["causes"] = [
        {
            "reason": "NamespaceTerminating",
            "message": f"namespace {namespace} is being terminated",
            "field": "metadata.namespace",
        }
    ]
    return ApiError(
        403,
        "Forbidden",
        f'{qualified} "{name}" is forbidden: unable to create new content in namespace {namespace} '
        "because it is being terminated",
        details=details,
    )


_SERVER_FIELDS = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)


def strip_server_fields(meta: Object) -> None:
    """Drops the metadata a create may not set (the server assigns it).

    Raises:
        ApiError: 400 when the body carries a resourceVersion, as Kubernetes refuses it.
    """
    if meta.get("resourceVersion"):
        raise ApiError.bad_request("resourceVersion should not be set on objects to be created")
    meta.pop("resourceVersion", None)
    for field in _SERVER_FIELDS:
        meta.pop(field, None)
