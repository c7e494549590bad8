"""Kubernetes strategic merge patch (`application/strategic-merge-patch+json`).

A port of `k8s.io/apimachinery/pkg/util/strategicpatch` as kube-apiserver applies it
(`MergeParallelList` and `IgnoreUnmatchedNulls` on):

- maps merge recursively and `null` deletes a key;
- lists whose Go field carries `patchStrategy:"merge"` merge: lists of objects by their
  `patchMergeKey` (containers by `name`, ports by `containerPort`, ...), lists of scalars as a
  de-duplicated union (`finalizers`); every other list is replaced as a whole;
- directives: `$patch: replace|delete` in a map, `{"$patch": "delete", <key>: ...}` and
  `{"$patch": "replace"}` elements in a merging list, `$retainKeys`, `$deleteFromPrimitiveList/<f>`,
  `$setElementOrder/<f>`; element order follows the patch, with server-only elements kept at their
  relative position in the live list.

The merge keys come from a table of the built-in types' patch metadata (their Go struct tags)
selected by `kind`. Strategic merge is not defined for custom resources: kube-apiserver answers 415
for them and so must our core; this function is for built-in kinds only. With `kind=None` (or a
kind outside the table) a field-name table is used at every depth instead.

Errors: malformed directives are 400 `BadRequest` and unsupported content 422 `Invalid`, with the
messages of `mergepatch` (as kube-apiserver's `interpretStrategicMergePatchError` maps them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError

__all__ = ["apply_strategic_merge_patch", "merge_key_for"]

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/"
_SET_ELEMENT_ORDER = "$setElementOrder/"

# mergepatch error messages.
_BAD_JSON_DOC = "invalid JSON document"
_NO_LIST_OF_LISTS = "lists of lists are not supported"
_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"


# -- patch metadata ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """Patch metadata of one field: whether its list merges, and by which key."""

    merge: bool = False
    merge_key: str = ""
    sub: _Meta | None = None


@dataclass(frozen=True)
class _Meta:
    """Patch metadata of a struct. `fields=None` means: look fields up by name (generic mode)."""

    fields: dict[str, _Field] | None = field(default_factory=dict)

    def lookup(self, name: str) -> _Field:
        if self.fields is None:
            return _GENERIC_FIELDS.get(name, _GENERIC_OTHER)
        return self.fields.get(name, _OPAQUE_FIELD)

    def sub(self, name: str) -> _Meta:
        found = self.lookup(name).sub
        return found if found is not None else (_GENERIC if self.fields is None else _OPAQUE)


_OPAQUE = _Meta({})
_OPAQUE_FIELD = _Field(sub=_OPAQUE)
_GENERIC = _Meta(None)
_GENERIC_OTHER = _Field(sub=_GENERIC)


def _merge_by(key: str, sub: _Meta | None = None) -> _Field:
    return _Field(merge=True, merge_key=key, sub=sub)


def _struct(**fields: _Field | _Meta) -> _Meta:
    return _Meta({k: (v if isinstance(v, _Field) else _Field(sub=v)) for k, v in fields.items()})


# The patch tags of k8s.io/api types the server serves (and the workload types that embed pods).
_OBJECT_META = _struct(finalizers=_Field(merge=True), ownerReferences=_merge_by("uid"))
_CONTAINER = _struct(
    ports=_merge_by("containerPort"),
    env=_merge_by("name"),
    volumeMounts=_merge_by("mountPath"),
    volumeDevices=_merge_by("devicePath"),
)
_POD_SPEC = _struct(
    volumes=_merge_by("name"),
    initContainers=_merge_by("name", _CONTAINER),
    containers=_merge_by("name", _CONTAINER),
    ephemeralContainers=_merge_by("name", _CONTAINER),
    imagePullSecrets=_merge_by("name"),
    hostAliases=_merge_by("ip"),
    topologySpreadConstraints=_merge_by("topologyKey"),
    resourceClaims=_merge_by("name"),
    schedulingGates=_merge_by("name"),
)
_POD_STATUS = _struct(
    conditions=_merge_by("type"),
    podIPs=_merge_by("ip"),
    hostIPs=_merge_by("ip"),
    resourceClaimStatuses=_merge_by("name"),
)
_CONDITIONS_STATUS = _struct(conditions=_merge_by("type"))
_POD_TEMPLATE_SPEC = _struct(metadata=_OBJECT_META, spec=_POD_SPEC)
_JOB_SPEC = _struct(template=_POD_TEMPLATE_SPEC)
_WORKLOAD = _struct(metadata=_OBJECT_META, spec=_JOB_SPEC, status=_CONDITIONS_STATUS)

_KINDS: dict[str, _Meta] = {
    "Pod": _struct(metadata=_OBJECT_META, spec=_POD_SPEC, status=_POD_STATUS),
    "PodTemplate": _struct(metadata=_OBJECT_META, template=_POD_TEMPLATE_SPEC),
    "Job": _WORKLOAD,
    "Deployment": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "StatefulSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD,
    "ReplicationController": _WORKLOAD,
    "CronJob": _struct(
        metadata=_OBJECT_META, spec=_struct(jobTemplate=_struct(metadata=_OBJECT_META, spec=_JOB_SPEC))
    ),
    "Service": _struct(
        metadata=_OBJECT_META, spec=_struct(ports=_merge_by("port")), status=_CONDITIONS_STATUS
    ),
    "Namespace": _struct(metadata=_OBJECT_META, status=_CONDITIONS_STATUS),
    "ServiceAccount": _struct(metadata=_OBJECT_META, secrets=_merge_by("name")),
    "Secret": _struct(metadata=_OBJECT_META),
    "ConfigMap": _struct(metadata=_OBJECT_META),
    "Event": _struct(metadata=_OBJECT_META),
    "CustomResourceDefinition": _struct(metadata=_OBJECT_META),
}

# Field name -> patch metadata, for documents of unknown kind.
_GENERIC_FIELDS: dict[str, _Field] = {
    **{name: _merge_by("name", _GENERIC) for name in ("containers", "initContainers", "ephemeralContainers")},
    **{
        name: _merge_by("name", _GENERIC)
        for name in ("volumes", "imagePullSecrets", "env", "secrets", "resourceClaims", "schedulingGates")
    },
    "ports": _merge_by("containerPort", _GENERIC),
    "volumeMounts": _merge_by("mountPath", _GENERIC),
    "volumeDevices": _merge_by("devicePath", _GENERIC),
    "conditions": _merge_by("type", _GENERIC),
    "ownerReferences": _merge_by("uid", _GENERIC),
    "hostAliases": _merge_by("ip", _GENERIC),
    "podIPs": _merge_by("ip", _GENERIC),
    "hostIPs": _merge_by("ip", _GENERIC),
    "topologySpreadConstraints": _merge_by("topologyKey", _GENERIC),
    "finalizers": _Field(merge=True, sub=_GENERIC),
}


def merge_key_for(kind: str | None, path: list[str]) -> str | None:
    """The patch merge key of the list at `path` in an object of `kind`.

    Args:
        kind: The object's kind (`Pod`, `Job`, ...), or None for the field-name table.
        path: Field names from the root to the list, e.g. `["spec", "containers"]`.

    Returns:
        The merge key, `""` for a merging list of scalars, or None for a list that is replaced.
    """
    meta = _KINDS.get(kind or "", _GENERIC)
    for name in path[:-1]:
        meta = meta.sub(name)
    found = meta.lookup(path[-1]) if path else _OPAQUE_FIELD
    return found.merge_key if found.merge else None


# -- merging -------------------------------------------------------------------------------------


def apply_strategic_merge_patch(
    target: dict[str, Any], patch: dict[str, Any], *, kind: str | None = None
) -> dict[str, Any]:
    """Applies a Kubernetes strategic merge patch to a built-in object.

    Args:
        target: The current object.
        patch: The decoded patch (a JSON object).
        kind: The object's kind, selecting the patch metadata (merge keys) of its type. Custom
            resources have none: the API server must answer 415 for them instead of calling this.

    Returns:
        The patched object (new; `target` and `patch` are untouched).

    Raises:
        ApiError: 400 for a malformed patch or directive, 422 for lists of lists.
    """
    if not isinstance(patch, dict) or not isinstance(target, dict):
        raise ApiError.bad_request(_BAD_JSON_DOC)
    meta = _KINDS.get(kind or "", _GENERIC)
    return _merge_map(_clone(target), _clone(patch), meta)


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _category(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _equal(a: Any, b: Any) -> bool:
    # Booleans are not numbers in JSON, but Python says True == 1.
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], meta: _Meta) -> dict[str, Any]:
    """`mergeMap`: merges `patch` into `original` (both owned by the caller, mutated)."""
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return _merge_map({}, patch, meta)
        if directive == "delete":
            return {}
        raise ApiError.bad_request(f"unknown patch type: {directive} in map: {patch}")
    _apply_retain_keys(original, patch)
    _apply_set_element_order(original, patch, meta)
    for key, value in patch.items():
        if key.startswith(_DELETE_FROM_PRIMITIVE):
            _delete_from_primitive_list(original, key[len(_DELETE_FROM_PRIMITIVE) :], value)
            continue
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        info = meta.lookup(key)
        if isinstance(value, dict) and isinstance(current, dict):
            original[key] = _merge_map(current, value, meta.sub(key))
        elif isinstance(value, list) and isinstance(current, list) and info.merge:
            original[key] = _merge_list(current, value, info, meta.sub(key))
        else:
            # Absent, of another JSON type, a list that is replaced, or a scalar: the patch wins.
            original[key] = _fresh(value, info, meta.sub(key))
    return original


def _fresh(value: Any, info: _Field, sub: _Meta) -> Any:
    """A patch value taken as is (no live counterpart), with its nulls and directives resolved."""
    if isinstance(value, dict):
        return _merge_map({}, value, sub)
    if isinstance(value, list):
        if info.merge:
            return _merge_list([], value, info, sub)
        return [_merge_map({}, v, sub) if isinstance(v, dict) else v for v in value]
    return value


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise ApiError.bad_request(_BAD_RETAIN_KEYS)
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM_PRIMITIVE, _SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise ApiError.bad_request(_BAD_RETAIN_KEYS)
    for key in list(original):
        if key not in keep:
            del original[key]


def _delete_from_primitive_list(original: dict[str, Any], name: str, values: Any) -> None:
    if not isinstance(values, list):
        raise ApiError.bad_request(_BAD_PRIMITIVE_LIST)
    current = original.get(name)
    if isinstance(current, list):
        original[name] = [v for v in current if not any(_equal(v, d) for d in values)]


def _apply_set_element_order(original: dict[str, Any], patch: dict[str, Any], meta: _Meta) -> None:
    """`mergePatchIntoOriginal`: merges each list that has a `$setElementOrder` and orders it."""
    for directive in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
        order = patch.pop(directive)
        name = directive[len(_SET_ELEMENT_ORDER) :]
        live = original.get(name)
        live_list = live if isinstance(live, list) else []
        patched = patch.get(name, [])
        if not isinstance(order, list) or not isinstance(patched, list):
            raise ApiError.bad_request(_BAD_SET_ELEMENT_ORDER)
        info = meta.lookup(name)
        key = info.merge_key
        _check_order_covers_patch(patched, order, key)
        if not live_list and not patched:
            continue
        patch.pop(name, None)
        if not patched:
            merged = live_list
        elif info.merge:
            merged = _merge_list(live_list, patched, info, meta.sub(name))
        else:
            merged = _fresh(patched, info, meta.sub(name))
        in_order, server_only = _partition(merged, order, key)
        original[name] = _normalize_order(in_order, server_only, order, live_list, key)


def _check_order_covers_patch(patched: list[Any], order: list[Any], key: str) -> None:
    """`validatePatchWithSetOrderList`: the patch's elements must appear in the order list, in order."""
    items = [p for p in patched if not (isinstance(p, dict) and _DIRECTIVE in p)]
    i = j = 0
    while i < len(items) and j < len(order):
        if _same_element(items[i], order[j], key):
            i += 1
        j += 1
    if i < len(items):
        raise ApiError.bad_request(
            f"The order in patch list:\n{patched}\n doesn't match {_SET_ELEMENT_ORDER} list:\n{order}\n"
        )


def _element_kind(*lists: list[Any]) -> str:
    """`sliceElementType`: all elements must be of one kind, and not lists."""
    kind = ""
    for items in lists:
        for item in items:
            current = _category(item)
            if current == "list":
                raise ApiError(422, "Invalid", _NO_LIST_OF_LISTS)
            if not kind:
                kind = current
            elif kind != current:
                raise ApiError.bad_request(f"list element types are not identical: {lists}")
    return kind


def _merge_list(original: list[Any], patch: list[Any], info: _Field, sub: _Meta) -> list[Any]:
    """`mergeSlice`: merges a list with patch strategy `merge`."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        merged: list[Any] = []
        for item in original + patch:
            if not any(_equal(item, seen) for seen in merged):
                merged.append(item)
        in_patch, server_only = _partition(merged, patch, "")
        return _normalize_order(in_patch, server_only, patch, original, "")
    key = info.merge_key
    if not key:
        raise ApiError.bad_request("cannot merge lists without merge key")
    original, patch, replace = _split_special_elements(original, patch, key)
    if replace:
        return [_merge_map({}, item, sub) for item in patch]
    merged = list(original)
    for item in patch:
        if key not in item:
            raise ApiError.bad_request(f"map: {item} does not contain declared merge key: {key}")
        position = next((i for i, o in enumerate(merged) if _equal(o.get(key), item[key])), None)
        if position is None:
            merged.append(_merge_map({}, item, sub))
        else:
            merged[position] = _merge_map(merged[position], item, sub)
    in_patch, server_only = _partition(merged, patch, key)
    # The live order is that of the list before the patch's new elements were appended.
    return _normalize_order(in_patch, server_only, patch, original, key)


def _split_special_elements(
    original: list[Any], patch: list[Any], key: str
) -> tuple[list[Any], list[Any], bool]:
    """`mergeSliceWithSpecialElements`: applies `$patch` elements.

    Returns the live list without deleted elements, the patch without directive elements, and
    whether a `{"$patch": "replace"}` element asks for the plain patch to replace the list.
    """
    plain: list[Any] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if key not in item:
                raise ApiError.bad_request(f"map: {item} does not contain declared merge key: {key}")
            original = [o for o in original if not _equal(o.get(key), item[key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise ApiError.bad_request("merging lists cannot yet be specified in the patch")
        else:
            raise ApiError.bad_request(f"unknown patch type: {directive} in map: {item}")
    return original, plain, replace


def _same_element(a: Any, b: Any, key: str) -> bool:
    """Whether `a` and `b` denote the same list element (by merge key for maps, by value otherwise)."""
    if key:
        left = a.get(key) if isinstance(a, dict) else a
        right = b.get(key) if isinstance(b, dict) else b
        return _equal(left, right)
    return _equal(a, b)


def _index(items: list[Any], item: Any, key: str) -> int:
    for i, candidate in enumerate(items):
        if _same_element(candidate, item, key):
            return i
    return -1


def _partition(items: list[Any], reference: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Splits `items` into those present in `reference` and the rest, keeping their order."""
    present: list[Any] = []
    absent: list[Any] = []
    for item in items:
        (present if _index(reference, item, key) >= 0 else absent).append(item)
    return present, absent


def _sort_by(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """`normalizeSliceOrder`: items found in `order` in that order, then the others."""
    present, absent = _partition(items, order, key)
    present.sort(key=lambda item: _index(order, item, key))
    return present + absent


def _normalize_order(
    patch_items: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any], key: str
) -> list[Any]:
    """`normalizeElementOrder` + `mergeSortedSlice`.

    Patch items follow the patch order; server-only items keep their live order and are
    interleaved where the live list had them relative to the patch items.
    """
    right = _sort_by(patch_items, patch_order, key)
    left = _sort_by(server_only, server_order, key)
    result: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            result.append(right[j])
            j += 1
        elif j >= len(right):
            result.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], key)
            ri = _index(server_order, right[j], key)
            if li >= 0 and ri >= 0 and li < ri:
                result.append(left[i])
                i += 1
            else:
                result.append(right[j])
                j += 1
    return result
