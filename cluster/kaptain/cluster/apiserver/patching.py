"""Turning a PATCH request into the object to store, per patch content type.

The patch algorithms themselves are in `patch` (pure functions); this module picks one and applies
the API server's rules around it: strategic merge is refused for custom resources with 415, the
result must still be an object, and server-side apply is served as a merge of the applied
configuration (see `patched_object`).
"""

from __future__ import annotations

from typing import Any

import yaml

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.apiserver.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from kaptain.cluster.apiserver.resources import ResourceType

_CR_PATCH_TYPES = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"


def _decode_apply(patch: Any) -> Object:
    if isinstance(patch, bytes | str):
        try:
            patch = yaml.safe_load(patch)
        except yaml.YAMLError as exc:
            raise ApiError.bad_request(f"error decoding YAML: {exc}") from None
    if not isinstance(patch, dict):
        raise ApiError.bad_request("the applied configuration must be an object")
    return patch


def patched_object(rt: ResourceType, current: Object, patch: Any, patch_type: str) -> Object:
    """Applies a patch of the given content type to the current object.

    Server-side apply (`application/apply-patch+yaml`) is served without field ownership: the
    applied configuration is merged into the live object (strategic merge for built-in kinds, JSON
    merge for custom resources), so fields it omits are kept and no conflicts are reported.

    Args:
        rt: The object's resource (built-in kinds accept strategic merge).
        current: The current object (not modified); `{}` when apply creates the object.
        patch: The decoded patch body (a list for JSON patch; YAML text or an object for apply).
        patch_type: The request's content type.

    Returns:
        The patched object (new).

    Raises:
        ApiError: 415 for strategic merge on a custom resource or an unknown content type, 400/422 for
            a malformed or inapplicable patch.
    """
    if patch_type == "application/merge-patch+json":
        if not isinstance(patch, dict):
            raise ApiError.bad_request("a merge patch must be a JSON object")
        result = apply_merge_patch(current, patch)
    elif patch_type == "application/json-patch+json":
        result = apply_json_patch(current, patch)
    elif patch_type == "application/strategic-merge-patch+json":
        if not rt.builtin:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                + _CR_PATCH_TYPES,
            )
        result = apply_strategic_merge_patch(current, patch, kind=rt.kind)
    elif patch_type == "application/apply-patch+yaml":
        applied = _decode_apply(patch)
        if rt.builtin:
            result = apply_strategic_merge_patch(current, applied, kind=rt.kind)
        else:
            result = apply_merge_patch(current, applied)
    else:
        raise ApiError.unsupported_media_type(patch_type)
    if not isinstance(result, dict):
        raise ApiError(422, "Invalid", "the patched object is not a JSON object")
    return result
