"""The patch formats of `PATCH` requests: JSON merge patch, JSON patch and strategic merge patch.

All functions are pure: they never mutate their arguments and return a new document.

Errors follow kube-apiserver (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`):

- a JSON patch that cannot be decoded (not a list of objects) is a 400 `BadRequest`;
- a JSON patch that decodes but cannot be applied (unknown `op`, missing `path`, a path that does not
  exist, a failed `test`) is a 422 `Invalid` with the fixed message "the server rejected our request
  due to an error in our request" and no details: the real server does not say which operation
  failed, and clients match on that message. The specific reason is kept as the exception's
  `__cause__` (a `JsonPatchError`) for logs;
- more than 10,000 operations is a 413 `RequestEntityTooLarge`.
"""

from __future__ import annotations

from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.strategic_merge import apply_strategic_merge_patch

__all__ = [
    "MAX_JSON_PATCH_OPERATIONS",
    "PATCH_REJECTED_MESSAGE",
    "JsonPatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "create_merge_patch",
    "json_equal",
]

MAX_JSON_PATCH_OPERATIONS = 10000
PATCH_REJECTED_MESSAGE = "the server rejected our request due to an error in our request"


class JsonPatchError(ValueError):
    """Why a JSON patch operation could not be applied (the `__cause__` of the 422 `ApiError`)."""


# -- JSON values ---------------------------------------------------------------------------------


def _clone(value: Any) -> Any:
    """Deep-copies a JSON value; several times faster than `copy.deepcopy` for plain JSON."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality as RFC 6902 `test` defines it.

    Numbers compare by value (1 == 1.0) but booleans are not numbers, which Python's `==` gets wrong
    (`True == 1`).

    Args:
        a: A JSON value.
        b: Another JSON value.

    Returns:
        Whether both denote the same JSON value.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


# -- RFC 7386 JSON merge patch -------------------------------------------------------------------


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Applies an RFC 7386 JSON merge patch (`application/merge-patch+json`).

    An object patch merges key by key, `null` deletes a key; any other patch value replaces the
    target. Lists are replaced as a whole.

    Args:
        target: The current document.
        patch: The merge patch.

    Returns:
        The patched document (a new value; `target` is untouched).
    """
    if not isinstance(patch, dict):
        return _clone(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    # Keys the patch did not touch are shared with `target` until here; copy them so the result
    # owns all its containers.
    for key, value in result.items():
        if key not in patch:
            result[key] = _clone(value)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """Computes the RFC 7386 merge patch that turns `original` into `modified`.

    Used by controllers and tests to express an update as a patch. A `null` inside `modified`
    cannot be expressed by a merge patch (it means "delete"), so such keys are deleted.

    Args:
        original: The document before.
        modified: The document after.

    Returns:
        A patch `p` with `apply_merge_patch(original, p) == modified` (given no nulls in `modified`).
    """
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return _clone(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = _clone(value)
        elif not json_equal(original[key], value):
            if isinstance(value, dict) and isinstance(original[key], dict):
                patch[key] = create_merge_patch(original[key], value)
            else:
                patch[key] = _clone(value)
    return patch


# -- RFC 6902 JSON patch -------------------------------------------------------------------------


def _parse_pointer(pointer: Any, what: str) -> list[str]:
    """Splits an RFC 6901 JSON pointer into unescaped reference tokens."""
    if not isinstance(pointer, str):
        raise JsonPatchError(f"operation has an invalid {what} field: {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise JsonPatchError(f'{what} "{pointer}" is not a JSON pointer (must start with "/")')
    # ~1 must be decoded before ~0 so that "~01" means "~1" and not "/" (RFC 6901 section 4).
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _array_index(token: str, length: int, *, allow_end: bool) -> int:
    """Resolves an array reference token; `allow_end` admits `-` and `length` (for `add`)."""
    if token == "-":
        if allow_end:
            return length
        raise JsonPatchError('"-" refers to a nonexistent array element')
    if not token.isdigit() or (len(token) > 1 and token[0] == "0") or not token.isascii():
        raise JsonPatchError(f"invalid array index: {token!r}")
    idx = int(token)
    if idx > length or (idx == length and not allow_end):
        raise JsonPatchError(f"array index {idx} out of bounds (length {length})")
    return idx


def _resolve(doc: Any, tokens: list[str]) -> Any:
    """Returns the value a pointer refers to."""
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise JsonPatchError(f"doc is missing key: {token}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, len(node), allow_end=False)]
        else:
            raise JsonPatchError(f"cannot descend into a scalar at {token!r}")
    return node


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(last, len(parent), allow_end=True), value)
    else:
        raise JsonPatchError("add operation does not apply: parent is not a container")
    return doc


def _remove(doc: Any, tokens: list[str]) -> tuple[Any, Any]:
    """Removes the target; returns the document and the removed value."""
    if not tokens:
        raise JsonPatchError("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise JsonPatchError(f"unable to remove nonexistent key: {last}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_array_index(last, len(parent), allow_end=False))
    raise JsonPatchError("remove operation does not apply: parent is not a container")


def _replace(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise JsonPatchError(f"replace operation does not apply: doc is missing key: {last}")
        parent[last] = value
    elif isinstance(parent, list):
        parent[_array_index(last, len(parent), allow_end=False)] = value
    else:
        raise JsonPatchError("replace operation does not apply: parent is not a container")
    return doc


def _apply_operation(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    if "path" not in op:
        raise JsonPatchError(f"{kind} operation is missing its path")
    path = _parse_pointer(op["path"], "path")
    # kube-apiserver (evanphx/json-patch v4) treats a missing "value" as null rather than failing.
    value = op.get("value")
    if kind == "add":
        return _add(doc, path, _clone(value))
    if kind == "remove":
        return _remove(doc, path)[0]
    if kind == "replace":
        return _replace(doc, path, _clone(value))
    if kind == "test":
        if not json_equal(_resolve(doc, path), value):
            raise JsonPatchError(f"testing value {op['path']} failed")
        return doc
    if kind in ("move", "copy"):
        if "from" not in op:
            raise JsonPatchError(f"{kind} operation is missing its from")
        source = _parse_pointer(op["from"], "from")
        if kind == "copy":
            return _add(doc, path, _clone(_resolve(doc, source)))
        if path[: len(source)] == source and len(path) > len(source):
            raise JsonPatchError("cannot move a value into one of its own children")
        doc, moved = _remove(doc, source)
        return _add(doc, path, moved)
    raise JsonPatchError(f"unexpected kind: {kind}")


def apply_json_patch(target: Any, operations: Any) -> Any:
    """Applies an RFC 6902 JSON patch (`application/json-patch+json`).

    Supports add, remove, replace, move, copy and test, JSON pointers with `~0`/`~1` escapes and
    `-` to append to an array. Operations apply in order and all-or-nothing.

    Args:
        target: The current document.
        operations: The decoded patch: a list of operation objects.

    Returns:
        The patched document (a new value; `target` is untouched).

    Raises:
        ApiError: 400 when `operations` is not a list of objects; 413 above 10,000 operations;
            422 `Invalid` when an operation cannot be applied (see the module docstring).
    """
    if not isinstance(operations, list):
        raise ApiError.bad_request(
            f"json: cannot unmarshal {_json_type(operations)} into Go value of type jsonpatch.Patch"
        )
    for op in operations:
        if not isinstance(op, dict):
            raise ApiError.bad_request(
                f"json: cannot unmarshal {_json_type(op)} into Go value of type map[string]*json.RawMessage"
            )
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError(
            413,
            "RequestEntityTooLarge",
            f"Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(operations)}",
        )
    doc = _clone(target)
    for op in operations:
        try:
            doc = _apply_operation(doc, op)
        except JsonPatchError as exc:
            raise ApiError(422, "Invalid", PATCH_REJECTED_MESSAGE) from exc
    return doc


def _json_type(value: Any) -> str:
    """Names a JSON value's type as Go's json package does in decode errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
