"""The OpenAPI v3 documents kubectl reads (`/openapi/v3` and one document per group version).

kubectl 1.37 downloads them before `apply`, `create`, `replace` and `explain`. What it looks for:

- whether the PATCH operation of a kind (found through its `x-kubernetes-group-version-kind`)
  declares the `fieldValidation` query parameter: then kubectl leaves validation to the server
  (`?fieldValidation=Strict`) instead of validating on the client with OpenAPI v2, which this server
  does not serve (kubectl asks for v2 in protobuf only);
- whether that PATCH operation accepts `application/strategic-merge-patch+json`: it is not listed,
  so for built-in kinds kubectl computes strategic merge patches from its compiled-in Go types (the
  authoritative patch strategies) and for custom resources it uses JSON merge patch, as with a
  real apiserver;
- the schemas under `components.schemas`, for `kubectl explain`: a CRD's `openAPIV3Schema`, or a
  loose object schema for the built-in kinds, whose fields the core validates by code.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.discovery import SERVER_VERSION
from kaptain.cluster.apiserver.resources import ResourceRegistry, ResourceType
from kaptain.cluster.apiserver.wire import dumps

Object = dict[str, Any]

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
_PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
_DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
# Built-in groups whose schema names follow the Kubernetes source tree rather than the reversed group.
_BUILTIN_PREFIX = {
    "": "io.k8s.api.core.v1",
    "batch": "io.k8s.api.batch.v1",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
}
# Patch content types advertised; strategic merge patch is deliberately absent (see module doc).
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def gv_path(group: str, version: str) -> str:
    """The key of a group version in the `/openapi/v3` root.

    Args:
        group: The API group ("" for core).
        version: The version.

    Returns:
        "api/v1" for the core group, "apis/<group>/<version>" otherwise.
    """
    return f"apis/{group}/{version}" if group else f"api/{version}"


@dataclass(frozen=True)
class _Doc:
    body: bytes
    digest: str
    types: tuple[ResourceType, ...]


class OpenApiV3:
    """Builds and caches the OpenAPI v3 documents of the served resources.

    A document is rebuilt only when the resource types of its group version change (a CRD was
    applied), so large CRD schemas are serialised once.

    Args:
        registry: The served resources (shared with the core, so CRDs show up as registered).
    """

    def __init__(self, registry: ResourceRegistry) -> None:
        self._registry = registry
        self._docs: dict[str, _Doc] = {}

    def root(self) -> Object:
        """Returns the `/openapi/v3` discovery document.

        Returns:
            `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}`.
        """
        paths: dict[str, Object] = {}
        for key in self._group_versions():
            doc = self.document(key)
            if doc is not None:
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={doc.digest}"}
        return {"paths": paths}

    def document_bytes(self, key: str) -> bytes | None:
        """Returns one group version's document, serialised.

        Args:
            key: As in the root, e.g. "apis/kubeflow.org/v1".

        Returns:
            The JSON bytes, or `None` when the group version is not served.
        """
        doc = self.document(key)
        return doc.body if doc is not None else None

    def document(self, key: str) -> _Doc | None:
        """Returns the cached document of one group version, rebuilding it if its types changed.

        Args:
            key: As in the root, e.g. "apis/kubeflow.org/v1".

        Returns:
            The serialised document with its hash, or `None` when the group version is not served.
        """
        types = tuple(rt for rt in self._registry.all() if gv_path(rt.group, rt.version) == key)
        if not types:
            self._docs.pop(key, None)
            return None
        cached = self._docs.get(key)
        # Identity, not equality: a re-registered CRD is a new ResourceType with a new schema.
        if (
            cached is not None
            and len(cached.types) == len(types)
            and all(a is b for a, b in zip(cached.types, types, strict=True))
        ):
            return cached
        body = dumps(build_document(types))
        doc = _Doc(body, hashlib.sha512(body).hexdigest()[:64].upper(), types)
        self._docs[key] = doc
        return doc

    def _group_versions(self) -> list[str]:
        keys: list[str] = []
        for rt in self._registry.all():
            key = gv_path(rt.group, rt.version)
            if key not in keys:
                keys.append(key)
        return keys


def schema_name(rt: ResourceType) -> str:
    """The `components.schemas` name of a kind, as Kubernetes names it.

    Args:
        rt: The resource type.

    Returns:
        E.g. "io.k8s.api.core.v1.Pod" or "org.kubeflow.v1.PyTorchJob".
    """
    prefix = _BUILTIN_PREFIX.get(rt.group) if rt.schema is None else None
    if prefix is None:
        reversed_group = ".".join(reversed(rt.group.split("."))) if rt.group else "core"
        prefix = f"{reversed_group}.{rt.version}"
    return f"{prefix}.{rt.kind}"


def build_document(types: tuple[ResourceType, ...]) -> Object:
    """Builds the OpenAPI v3 document of one group version.

    Args:
        types: The group version's resource types.

    Returns:
        The document: paths with operations tagged by group-version-kind, and schemas.
    """
    schemas: dict[str, Object] = dict(_META_SCHEMAS)
    paths: dict[str, Object] = {}
    for rt in types:
        name = schema_name(rt)
        schemas[name] = _kind_schema(rt)
        schemas[f"{name}List"] = _list_schema(rt, name)
        paths.update(_paths(rt, name))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _gvk(rt: ResourceType, kind: str | None = None) -> Object:
    return {"group": rt.group, "version": rt.version, "kind": kind or rt.kind}


def _ref(name: str) -> Object:
    return {"$ref": f"#/components/schemas/{name}"}


def _kind_schema(rt: ResourceType) -> Object:
    if rt.schema is not None:
        schema = copy.deepcopy(rt.schema)
        schema.setdefault("type", "object")
        props = schema.setdefault("properties", {})
        props["metadata"] = {"allOf": [_ref(_OBJECT_META)], "description": "Standard object's metadata."}
        props.setdefault(
            "apiVersion", {"type": "string", "description": "APIVersion of this representation."}
        )
        props.setdefault(
            "kind", {"type": "string", "description": "Kind is the REST resource this object represents."}
        )
    else:
        schema = {
            "type": "object",
            "description": f"{rt.kind} ({rt.api_version}).",
            "properties": {
                "apiVersion": {"type": "string", "description": "APIVersion of this representation."},
                "kind": {
                    "type": "string",
                    "description": "Kind is the REST resource this object represents.",
                },
                "metadata": {"allOf": [_ref(_OBJECT_META)], "description": "Standard object's metadata."},
            },
            # Built-in kinds are validated by the core's code; their remaining fields are open here.
            "x-kubernetes-preserve-unknown-fields": True,
        }
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def _list_schema(rt: ResourceType, name: str) -> Object:
    return {
        "type": "object",
        "description": f"{rt.list_kind} is a list of {rt.kind}.",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "items": {"type": "array", "items": _ref(name)},
            "metadata": {"allOf": [_ref(_LIST_META)]},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind)],
    }


def _param(name: str, where: str = "query", *, required: bool = False, type_: str = "string") -> Object:
    param: Object = {"name": name, "in": where, "schema": {"type": type_, "uniqueItems": True}}
    if required:
        param["required"] = True
    return param


def _json_body(schema: Object) -> Object:
    return {"content": {"application/json": {"schema": schema}}, "required": True}


def _responses(schema: Object, *codes: str) -> Object:
    return {
        code: {"description": "OK", "content": {"application/json": {"schema": schema}}} for code in codes
    }


def _operation(
    rt: ResourceType, action: str, op_id: str, params: list[Object], responses: Object, **extra: Any
) -> Object:
    return {
        "operationId": op_id,
        "parameters": params,
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
        **extra,
    }


def _paths(rt: ResourceType, name: str) -> dict[str, Object]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = "Namespaced" if rt.namespaced else ""
    prefix = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    path_params = [_param("namespace", "path", required=True)] if rt.namespaced else []
    item_params = [*path_params, _param("name", "path", required=True)]
    write = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
    selectors = [
        _param("labelSelector"),
        _param("fieldSelector"),
        _param("resourceVersion"),
        _param("limit", type_="integer"),
    ]
    op = f"{scope}{rt.kind}"
    obj, status = _ref(name), _ref(_STATUS)
    patch_body = {"content": {t: {"schema": _ref(_PATCH)} for t in _PATCH_TYPES}, "required": True}
    paths: dict[str, Object] = {
        prefix: {
            "get": _operation(
                rt,
                "list",
                f"list{op}",
                [*path_params, *selectors, _param("watch", type_="boolean")],
                _responses(_ref(f"{name}List"), "200"),
            ),
            "post": _operation(
                rt,
                "post",
                f"create{op}",
                [*path_params, *write],
                _responses(obj, "200", "201", "202"),
                requestBody=_json_body(obj),
            ),
            "delete": _operation(
                rt,
                "deletecollection",
                f"deleteCollection{op}",
                [*path_params, *selectors],
                _responses(status, "200"),
                requestBody=_json_body(_ref(_DELETE_OPTIONS)),
            ),
        },
        f"{prefix}/{{name}}": {
            "get": _operation(rt, "get", f"read{op}", item_params, _responses(obj, "200")),
            "put": _operation(
                rt,
                "put",
                f"replace{op}",
                [*item_params, *write],
                _responses(obj, "200", "201"),
                requestBody=_json_body(obj),
            ),
            "patch": _operation(
                rt,
                "patch",
                f"patch{op}",
                [*item_params, *write, _param("force", type_="boolean")],
                _responses(obj, "200", "201"),
                requestBody=patch_body,
            ),
            "delete": _operation(
                rt,
                "delete",
                f"delete{op}",
                [
                    *item_params,
                    _param("dryRun"),
                    _param("gracePeriodSeconds", type_="integer"),
                    _param("propagationPolicy"),
                ],
                _responses(obj, "200", "202"),
                requestBody=_json_body(_ref(_DELETE_OPTIONS)),
            ),
        },
    }
    if rt.has_status:
        paths[f"{prefix}/{{name}}/status"] = {
            "get": _operation(rt, "get", f"read{op}Status", item_params, _responses(obj, "200")),
            "put": _operation(
                rt,
                "put",
                f"replace{op}Status",
                [*item_params, *write],
                _responses(obj, "200", "201"),
                requestBody=_json_body(obj),
            ),
            "patch": _operation(
                rt,
                "patch",
                f"patch{op}Status",
                [*item_params, *write, _param("force", type_="boolean")],
                _responses(obj, "200", "201"),
                requestBody=patch_body,
            ),
        }
    return paths


_META_SCHEMAS: dict[str, Object] = {
    _OBJECT_META: {
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have.",
        "properties": {
            "name": {"type": "string", "description": "Name must be unique within a namespace."},
            "generateName": {"type": "string", "description": "Prefix for a server-generated name."},
            "namespace": {
                "type": "string",
                "description": "Namespace defines the space within which each name must be unique.",
            },
            "uid": {
                "type": "string",
                "description": "UID is the unique in time and space value for this object.",
            },
            "resourceVersion": {
                "type": "string",
                "description": "An opaque value that represents the internal version of this object.",
            },
            "generation": {
                "type": "integer",
                "format": "int64",
                "description": "A sequence number representing a specific generation of the desired state.",
            },
            "creationTimestamp": {
                "type": "string",
                "format": "date-time",
                "description": "Server time when this object was created.",
            },
            "deletionTimestamp": {
                "type": "string",
                "format": "date-time",
                "description": "Time after which this resource will be deleted.",
            },
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
            "labels": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Map of string keys and values to organize and categorize objects.",
            },
            "annotations": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Unstructured key value map stored with a resource.",
            },
            "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "ownerReferences": {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "x-kubernetes-patch-merge-key": "uid",
                "x-kubernetes-patch-strategy": "merge",
            },
            "managedFields": {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
    },
    _LIST_META: {
        "type": "object",
        "description": "ListMeta describes metadata that synthetic resources must have.",
        "properties": {
            "resourceVersion": {"type": "string"},
            "continue": {"type": "string"},
            "remainingItemCount": {"type": "integer", "format": "int64"},
        },
    },
    _STATUS: {
        "type": "object",
        "description": "Status is a return value for calls that don't return other objects.",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "code": {"type": "integer", "format": "int32"},
            "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "message": {"type": "string"},
            "reason": {"type": "string"},
            "status": {"type": "string"},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}],
    },
    _PATCH: {
        "type": "object",
        "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
    },
    _DELETE_OPTIONS: {
        "type": "object",
        "description": "DeleteOptions may be provided when deleting an API object.",
        "properties": {
            "dryRun": {"type": "array", "items": {"type": "string"}},
            "gracePeriodSeconds": {"type": "integer", "format": "int64"},
            "propagationPolicy": {"type": "string"},
            "preconditions": {
                "type": "object",
                "properties": {"uid": {"type": "string"}, "resourceVersion": {"type": "string"}},
            },
        },
    },
}
