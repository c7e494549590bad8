"""Query parameters and bodies of the write requests: decoding, checks, DeleteOptions.

Follows the Kubernetes API conventions: bodies are JSON (or YAML) objects, patches come in the four
patch media types, `dryRun`, `fieldValidation` and `fieldManager` are checked as the apiserver
checks them, and DeleteOptions may come in the body or the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import PatchType
from kaptain.cluster.apiserver.patch import JsonPatchError, apply_json_patch, apply_merge_patch
from kaptain.cluster.apiserver.wire import (
    JSON,
    dry_run,
    media_type,
    query_bool,
    query_int,
    query_str,
    read_json,
    read_optional_json,
    read_text,
)

Object = dict[str, Any]

_PATCH_TYPES: dict[str, PatchType] = {
    "application/json-patch+json": "application/json-patch+json",
    "application/merge-patch+json": "application/merge-patch+json",
    "application/strategic-merge-patch+json": "application/strategic-merge-patch+json",
    "application/apply-patch+yaml": "application/apply-patch+yaml",
}
_FIELD_VALIDATION = ("", "Ignore", "Warn", "Strict")
_PROPAGATION = ("Orphan", "Background", "Foreground")


@dataclass(frozen=True)
class DeleteOptions:
    """The options of a delete, merged from the body and the query.

    Attributes:
        propagation_policy: "Orphan", "Background", "Foreground" or `None` for the kind's default.
        grace_period_seconds: The grace period, or `None` for the object's default.
        preconditions: `uid`/`resourceVersion` the object must have, or `None`.
        dry_run: Whether nothing may be deleted (`dryRun=All`).
    """

    propagation_policy: str | None
    grace_period_seconds: int | None
    preconditions: dict[str, str] | None
    dry_run: bool


def check_name(body: Object, name: str, namespace: str | None) -> Object:
    """Checks a PUT body against the URL before anything is looked up, as Kubernetes' handler does.

    Args:
        body: The object sent.
        name: The name in the URL.
        namespace: The namespace in the URL, if any.

    Returns:
        The body, unchanged.

    Raises:
        ApiError: 400 when the body names another object or namespace.
    """
    meta = body.get("metadata")
    if isinstance(meta, dict):
        body_name = meta.get("name")
        if body_name and body_name != name:
            raise ApiError.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        body_namespace = meta.get("namespace")
        if namespace and body_namespace and body_namespace != namespace:
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
    return body


def check_write_params(request: web.Request) -> None:
    """Checks `fieldValidation`, `fieldManager` and `dryRun` of a create, update or patch.

    Args:
        request: The request.

    Raises:
        ApiError: 400 for a value Kubernetes would refuse.
    """
    validation = request.query.get("fieldValidation", "")
    if validation not in _FIELD_VALIDATION:
        raise ApiError.bad_request(
            f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore", "Warn", "Strict"'
        )
    manager = request.query.get("fieldManager", "")
    if len(manager) > 128:
        raise ApiError.bad_request("fieldManager: Too long: may not be longer than 128 characters")
    dry_run(request)


def refuse_dry_run(request: web.Request) -> None:
    """Refuses `dryRun=All` for updates and patches.

    Args:
        request: The request.

    Raises:
        ApiError: 400 when a dry run is asked for.
    """
    if dry_run(request):
        # The core computes updates and patches only by committing them, so a dry run would write.
        raise ApiError.bad_request("dryRun is supported for create and delete only on this server")


async def read_object(request: web.Request) -> Object:
    """Reads the object of a create or update (JSON, or YAML as Kubernetes also accepts).

    Args:
        request: The request.

    Returns:
        The object.

    Raises:
        ApiError: 400 for a malformed body or one that is not an object, 415 for another media type.
    """
    kind = media_type(request)
    body: Any
    if kind in ("", JSON, "*/*"):
        body = await read_json(request)
    elif kind in ("application/yaml", "application/x-yaml"):
        body = load_yaml(await read_text(request))
    elif kind == "application/vnd.kubernetes.protobuf":
        # kubectl's generators (`kubectl create configmap ...`) send protobuf; manifests go as JSON.
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "this API server accepts JSON and YAML bodies only, not protobuf: "
            "create the object from a manifest (kubectl apply -f / kubectl create -f)",
        )
    else:
        raise ApiError.unsupported_media_type(kind)
    if not isinstance(body, dict):
        raise ApiError.bad_request("the request body must be a JSON object")
    return body


async def read_patch(request: web.Request) -> tuple[Any, PatchType]:
    """Reads a patch and its type from the request's `Content-Type`.

    Args:
        request: The request.

    Returns:
        The decoded patch (a list for JSON patch, an object otherwise) and its patch type.

    Raises:
        ApiError: 415 for a media type that is not a patch type, 400 for a malformed patch or an
            apply patch without `fieldManager`.
    """
    kind = media_type(request)
    patch_type = _PATCH_TYPES.get(kind)
    if patch_type is None:
        raise ApiError.unsupported_media_type(kind or "(none)")
    if patch_type == "application/apply-patch+yaml":
        if not request.query.get("fieldManager"):
            raise ApiError.bad_request(
                "PATCH, application/apply-patch+yaml requires the fieldManager query parameter"
            )
        patch = load_yaml(await read_text(request))
        if not isinstance(patch, dict):
            raise ApiError.bad_request("the apply patch must be an object")
        return patch, patch_type
    patch = await read_json(request)
    if patch_type == "application/json-patch+json":
        if not isinstance(patch, list):
            raise ApiError.bad_request("a JSON patch must be a list of operations")
    elif not isinstance(patch, dict):
        raise ApiError.bad_request("a merge patch must be a JSON object")
    return patch, patch_type


def patch_plain(target: Object, patch: Any, patch_type: PatchType) -> Any:
    """Applies a patch to a derived view (a Scale), which has no strategic or apply semantics.

    Args:
        target: The view.
        patch: The patch.
        patch_type: JSON patch, or any merge form (applied as a JSON merge patch).

    Returns:
        The patched view.

    Raises:
        ApiError: 422 when a JSON patch cannot be applied.
    """
    try:
        if patch_type == "application/json-patch+json":
            return apply_json_patch(target, patch)
        return apply_merge_patch(target, patch)
    except JsonPatchError as exc:
        raise ApiError(422, "Invalid", f"the patch could not be applied: {exc}") from exc


def load_yaml(text: str) -> Any:
    """Decodes a YAML body.

    Args:
        text: The body.

    Returns:
        The decoded value.

    Raises:
        ApiError: 400 for malformed YAML.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ApiError.bad_request(f"the request body is not valid YAML: {exc}") from exc


async def delete_options(request: web.Request) -> DeleteOptions:
    """Merges `DeleteOptions` from the body and the query (the body wins, as in Kubernetes).

    Args:
        request: The DELETE request.

    Returns:
        The options; the deprecated `orphanDependents` is mapped to a propagation policy.

    Raises:
        ApiError: 400 for malformed or unsupported options.
    """
    body = await read_optional_json(request) if request.can_read_body else None
    if body is not None and not isinstance(body, dict):
        raise ApiError.bad_request("DeleteOptions must be a JSON object")
    body = body or {}
    policy = body.get("propagationPolicy") or query_str(request, "propagationPolicy")
    orphan = body.get("orphanDependents")
    if orphan is None and "orphanDependents" in request.query:
        orphan = query_bool(request, "orphanDependents")
    if policy is None and orphan is not None:
        policy = "Orphan" if orphan else "Background"
    if policy is not None and policy not in _PROPAGATION:
        raise ApiError.bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
        )
    grace = body.get("gracePeriodSeconds")
    if grace is None:
        grace = query_int(request, "gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise ApiError.bad_request("gracePeriodSeconds must be an integer")
    preconditions = body.get("preconditions")
    if preconditions is not None and not isinstance(preconditions, dict):
        raise ApiError.bad_request("preconditions must be an object")
    body_dry_run = body.get("dryRun") or []
    if not isinstance(body_dry_run, list) or any(v != "All" for v in body_dry_run):
        raise ApiError.bad_request('dryRun: Unsupported value: supported values: "All"')
    return DeleteOptions(
        propagation_policy=policy,
        grace_period_seconds=grace,
        preconditions={k: str(v) for k, v in preconditions.items() if v is not None}
        if preconditions
        else None,
        dry_run=bool(body_dry_run) or dry_run(request),
    )
