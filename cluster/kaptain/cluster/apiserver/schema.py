"""Structural OpenAPI v3 schemas of CustomResourceDefinitions: pruning, defaulting, validation.

What kube-apiserver does with a custom resource on create and update, in this order:

1. `prune`: drop fields the schema does not declare (unless `x-kubernetes-preserve-unknown-fields`),
   keep `apiVersion`/`kind`/`metadata` at the root and in `x-kubernetes-embedded-resource` objects
   (metadata reduced to `ObjectMeta` fields), and drop `null`s of non-nullable fields without a
   default (`PruneNonNullableNullsWithoutDefaults`);
2. `apply_defaults`: fill `default:` values of missing fields inside objects that exist,
   recursively (`structuraldefaulting.Default`);
3. `validate`: the OpenAPI checks of `k8s.io/kube-openapi/pkg/validation/validate` turned into
   `StatusCause`s as `apiextensions-apiserver/pkg/apiserver/validation.ValidateCustomResource`
   does, plus `x-kubernetes-list-type` uniqueness and embedded-resource checks (the walk and the
   string formats live in `schema_validation`).

`x-kubernetes-validations` (CEL rules) are not evaluated: they need a CEL runtime, and the
upstream CRDs we serve only use them for immutability (`self == oldSelf`) on update. Formats other
than the ones kube-apiserver supports for CRDs are ignored, as kube-apiserver strips them; of the
supported ones, isbn, creditcard and ssn are accepted without checking.

`prune` and `apply_defaults` work in place (and return the object) like their kube-apiserver
counterparts; `validate` only reads. Compile a schema once (`StructuralSchema(schema_dict)`) and
reuse it: sub-schemas are compiled lazily on first use and cached, so a 600 KB schema costs only
what an object actually touches.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from kaptain.cluster.apiserver.schema_validation import FORMATS, validate_node

__all__ = ["OBJECT_META_FIELDS", "StructuralSchema"]

Cause = dict[str, str]

# The fields of metav1.ObjectMeta; anything else under `metadata` is dropped while decoding.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")
_MISSING: Any = object()


# -- compiled schema nodes -----------------------------------------------------------------------


class SchemaNode:
    """One compiled schema; children are compiled on first use and cached."""

    def __init__(self, raw: dict[str, Any], defaulted: frozenset[int]) -> None:
        self.raw = raw
        # ids of the raw schemas that declare a default at or below them (shared by all nodes).
        self.defaulted = defaulted
        declared = raw.get("type")
        if raw.get("x-kubernetes-int-or-string") is True:
            self.types: tuple[str, ...] = ("integer", "string")
        elif isinstance(declared, str) and declared:
            self.types = (declared,)
        else:
            self.types = ()
        self.nullable = raw.get("nullable") is True
        fmt = raw.get("format")
        self.format = fmt if isinstance(fmt, str) and fmt in FORMATS else ""
        self.preserve_unknown = raw.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = raw.get("x-kubernetes-embedded-resource") is True
        self.default = raw.get("default", _MISSING)
        enum = raw.get("enum")
        self.enum: list[Any] | None = enum if isinstance(enum, list) else None
        self.required: tuple[str, ...] = tuple(raw.get("required") or ())
        self.maximum: float | None = raw.get("maximum")
        self.minimum: float | None = raw.get("minimum")
        self.exclusive_maximum = raw.get("exclusiveMaximum") is True
        self.exclusive_minimum = raw.get("exclusiveMinimum") is True
        self.multiple_of: float | None = raw.get("multipleOf")
        self.max_length: int | None = raw.get("maxLength")
        self.min_length: int | None = raw.get("minLength")
        self.pattern_text: str | None = raw.get("pattern")
        self.max_items: int | None = raw.get("maxItems")
        self.min_items: int | None = raw.get("minItems")
        self.unique_items = raw.get("uniqueItems") is True
        self.max_properties: int | None = raw.get("maxProperties")
        self.min_properties: int | None = raw.get("minProperties")
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.list_map_keys: tuple[str, ...] = tuple(raw.get("x-kubernetes-list-map-keys") or ())
        self.additional_allowed = raw.get("additionalProperties") is not False
        self.has_composition = any(k in raw for k in ("allOf", "anyOf", "oneOf", "not"))
        self._properties: dict[str, SchemaNode] = {}

    def _child(self, raw: Any) -> SchemaNode | None:
        return SchemaNode(raw, self.defaulted) if isinstance(raw, dict) else None

    def prop(self, name: str) -> SchemaNode | None:
        node = self._properties.get(name)
        if node is None:
            node = self._child((self.raw.get("properties") or {}).get(name))
            if node is not None:
                self._properties[name] = node
        return node

    def property_names(self) -> list[str]:
        return list(self.raw.get("properties") or ())

    @cached_property
    def additional(self) -> SchemaNode | None:
        return self._child(self.raw.get("additionalProperties"))

    @cached_property
    def items(self) -> SchemaNode | None:
        return self._child(self.raw.get("items"))

    def _children(self, key: str) -> list[SchemaNode]:
        return [SchemaNode(s, self.defaulted) for s in self.raw.get(key) or () if isinstance(s, dict)]

    @cached_property
    def all_of(self) -> list[SchemaNode]:
        return self._children("allOf")

    @cached_property
    def any_of(self) -> list[SchemaNode]:
        return self._children("anyOf")

    @cached_property
    def one_of(self) -> list[SchemaNode]:
        return self._children("oneOf")

    @cached_property
    def negated(self) -> SchemaNode | None:
        return self._child(self.raw.get("not"))

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        try:
            return re.compile(str(self.pattern_text))
        except re.error:
            # kube-apiserver rejects such CRDs; a pattern Python cannot compile is not enforced.
            return None

    @cached_property
    def defaults_below(self) -> bool:
        """Whether this schema or a structural sub-schema declares a default (skips defaulting walks)."""
        return id(self.raw) in self.defaulted


def _index_defaults(raw: Any, found: set[int]) -> bool:
    """Collects the ids of the schemas with a `default` at or below them, in one walk of the tree."""
    if not isinstance(raw, dict):
        return False
    below = "default" in raw
    for sub in (raw.get("properties") or {}).values():
        below = _index_defaults(sub, found) or below
    for key in ("items", "additionalProperties"):
        below = _index_defaults(raw.get(key), found) or below
    if below:
        found.add(id(raw))
    return below


# -- the public class ----------------------------------------------------------------------------


class StructuralSchema:
    """A CRD version's `openAPIV3Schema`, compiled for pruning, defaulting and validation.

    Args:
        schema: The `openAPIV3Schema` dict (as in the CRD; it is not copied, do not mutate it).
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        defaulted: set[int] = set()
        _index_defaults(schema, defaulted)
        self._root = SchemaNode(schema, frozenset(defaulted))

    # Pruning ----------------------------------------------------------------------------------

    def prune(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Drops unknown fields the way kube-apiserver's decoder does for a custom resource.

        Args:
            obj: The object, pruned in place (as kube-apiserver prunes the decoded object).

        Returns:
            `obj` itself; `apiVersion`, `kind` and `metadata` (reduced to `ObjectMeta` fields) are
            always kept at the root.
        """
        _prune_object(obj, self._root, root=True)
        return obj

    # Defaulting -------------------------------------------------------------------------------

    def apply_defaults(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Applies the schema's `default:` values (`structuraldefaulting.Default`).

        A default is set for a property that is missing (or `null` while not nullable) inside an
        object that exists; defaults are applied again inside the values just defaulted.

        Args:
            obj: The object, defaulted in place; default values are copied from the schema.

        Returns:
            `obj` itself.
        """
        _default(obj, self._root)
        return obj

    # Validation -------------------------------------------------------------------------------

    def validate(self, obj: Any) -> list[Cause]:
        """Validates an object against the schema.

        Args:
            obj: The (pruned and defaulted) object.

        Returns:
            `StatusCause` dicts with Kubernetes' reasons, messages and field paths, e.g.
            `{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.replicas"}`;
            empty when valid.
        """
        return validate_node(obj, self._root)


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


# -- pruning -------------------------------------------------------------------------------------


def _prune_meta(meta: Any) -> None:
    if isinstance(meta, dict):
        for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
            del meta[key]


def _prune(value: Any, node: SchemaNode) -> None:
    if isinstance(value, list):
        items = node.items
        if items is not None:
            for item in value:
                _prune(item, items)
    elif isinstance(value, dict):
        _prune_object(value, node)


def _prune_object(value: dict[str, Any], node: SchemaNode, *, root: bool = False) -> None:
    keep_resource = root or node.embedded
    additional = node.additional
    drop: list[str] = []
    for key, child in value.items():
        if keep_resource and key in _RESOURCE_FIELDS:
            if key == "metadata":
                _prune_meta(child)
            continue
        sub = node.prop(key)
        if sub is None and additional is not None:
            sub = additional
        if sub is not None:
            if child is None and not sub.nullable and sub.default is _MISSING:
                drop.append(key)
            else:
                _prune(child, sub)
        elif not node.preserve_unknown:
            drop.append(key)
    for key in drop:
        del value[key]


# -- defaulting ----------------------------------------------------------------------------------


def _default(value: Any, node: SchemaNode) -> None:
    if not node.defaults_below:
        return
    if isinstance(value, dict):
        for name in node.property_names():
            sub = node.prop(name)
            if sub is None or sub.default is _MISSING:
                continue
            if name not in value or (value[name] is None and not sub.nullable):
                value[name] = _clone(sub.default)
        additional = node.additional
        for key, child in value.items():
            sub = node.prop(key)
            if sub is None and additional is not None:
                if child is None and not additional.nullable and additional.default is not _MISSING:
                    value[key] = _clone(additional.default)
                sub = additional
            if sub is not None:
                _default(value[key], sub)
    elif isinstance(value, list):
        items = node.items
        if items is None:
            return
        for i, child in enumerate(value):
            if child is None and not items.nullable and items.default is not _MISSING:
                value[i] = _clone(items.default)
            _default(value[i], items)
