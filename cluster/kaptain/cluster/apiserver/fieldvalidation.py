"""Server-side field validation (`fieldValidation=Strict|Warn|Ignore`) for custom resources.

The core prunes fields that a CRD's structural schema does not know, as kube-apiserver does. What
the client hears about them depends on `fieldValidation` (https://kubernetes.io/docs/reference/
using-api/api-concepts/#field-validation): `Strict` (kubectl's default) fails the request with 400
listing every unknown field, `Warn` (the default without the parameter) succeeds with one
`Warning` header per field, `Ignore` says nothing. Unknown fields are found by pruning a copy of
the request body with the CRD's schema and comparing it with the original.

Built-in kinds are validated by the core's code and have no schema here, so only custom resources
are checked.
"""

from __future__ import annotations

import copy
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.schema import StructuralSchema

Object = dict[str, Any]
_MAX_REPORTED = 50


class FieldValidator:
    """Finds unknown fields of custom resource bodies; compiled schemas are cached per CRD version."""

    def __init__(self) -> None:
        # One entry per served resource, replaced when its CRD brings a new schema dict.
        self._compiled: dict[tuple[str, str, str], tuple[dict[str, Any], StructuralSchema]] = {}

    def unknown_fields(self, rt: ResourceType, body: Object) -> list[str]:
        """Lists the fields of `body` that the type's schema would prune.

        Args:
            rt: The resource type.
            body: An object, or a merge patch or apply patch (which have the object's shape).

        Returns:
            Paths such as `spec.replicaz` or `spec.containers[0].nme`; empty for built-in kinds.
        """
        if rt.schema is None:
            return []
        key = (rt.group, rt.version, rt.plural)
        cached = self._compiled.get(key)
        if cached is None or cached[0] is not rt.schema:
            cached = (rt.schema, StructuralSchema(rt.schema))
            self._compiled[key] = cached
        pruned = cached[1].prune(copy.deepcopy(body))
        found: list[str] = []
        _diff(body, pruned, "", found)
        return found


def _diff(original: Any, pruned: Any, path: str, found: list[str]) -> None:
    if len(found) >= _MAX_REPORTED:
        return
    if isinstance(original, dict) and isinstance(pruned, dict):
        for key, value in original.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in pruned:
                found.append(child)
            else:
                _diff(value, pruned[key], child, found)
    elif isinstance(original, list) and isinstance(pruned, list) and len(original) == len(pruned):
        for index, (a, b) in enumerate(zip(original, pruned, strict=True)):
            _diff(a, b, f"{path}[{index}]", found)


def enforce(rt: ResourceType, directive: str, unknown: list[str]) -> list[str]:
    """Applies a `fieldValidation` directive to the unknown fields of a request.

    Args:
        rt: The resource type.
        directive: "Strict", "Warn", "Ignore" or "" (which means "Warn", as in Kubernetes).
        unknown: From `FieldValidator.unknown_fields`.

    Returns:
        The `Warning` header values to send with the response.

    Raises:
        ApiError: 400 under `Strict` when there are unknown fields.
    """
    if not unknown or directive == "Ignore":
        return []
    if directive == "Strict":
        fields = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise ApiError.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {fields}'
        )
    return [f'299 - "unknown field \\"{path}\\""' for path in unknown]
