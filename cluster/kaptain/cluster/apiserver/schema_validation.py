"""Validation of custom resources against a compiled structural schema.

The OpenAPI checks of `k8s.io/kube-openapi/pkg/validation/validate` turned into `StatusCause`s as
`apiextensions-apiserver/pkg/apiserver/validation.ValidateCustomResource` does, plus
`x-kubernetes-list-type` uniqueness and embedded-resource checks. `schema.StructuralSchema.validate`
is the entry point; this module also owns the string formats kube-apiserver checks for CRDs.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.patch import json_equal

if TYPE_CHECKING:
    from kaptain.cluster.apiserver.schema import SchemaNode

__all__ = ["FORMATS", "validate_node"]

Cause = dict[str, str]

# -- formats -------------------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")
_DURATION = re.compile(r"([-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w))+|0")
_HOSTNAME = re.compile(
    r"(?=.{1,255}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MAC = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}|([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}")
_HEX_COLOR = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
_RGB_COLOR = re.compile(r"rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)")
_BSON_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*|/\S*")


def _valid_ip(value: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(value).version == version
    except ValueError:
        return False


def _valid_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _valid_uuid(value: str, version: int | None) -> bool:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return version is None or parsed.version == version


def _valid_byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


# The formats kube-apiserver checks for CRDs (apiextensions `supportedFormats`); others are stripped.
FORMATS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": _matches(_BSON_OBJECT_ID),
    "uri": _matches(_URI),
    "email": _matches(_EMAIL),
    "hostname": _matches(_HOSTNAME),
    "ipv4": lambda v: _valid_ip(v, 4),
    "ipv6": lambda v: _valid_ip(v, 6),
    "cidr": _valid_cidr,
    "mac": _matches(_MAC),
    "uuid": lambda v: _valid_uuid(v, None),
    "uuid3": lambda v: _valid_uuid(v, 3),
    "uuid4": lambda v: _valid_uuid(v, 4),
    "uuid5": lambda v: _valid_uuid(v, 5),
    "hexcolor": _matches(_HEX_COLOR),
    "rgbcolor": _matches(_RGB_COLOR),
    "byte": _valid_byte,
    "password": lambda v: True,
    "date": _matches(_DATE),
    "date-time": _matches(_DATE_TIME),
    "datetime": _matches(_DATE_TIME),
    "duration": _matches(_DURATION),
}


def _json_type(value: Any) -> tuple[str, str]:
    """The OpenAPI type and Go format of a decoded JSON value (`schemaInfoForType`)."""
    if isinstance(value, bool):
        return "boolean", ""
    if isinstance(value, str):
        return "string", ""
    if isinstance(value, int):
        return "integer", "int64"
    if isinstance(value, float):
        return "number", "float64"
    if isinstance(value, list):
        return "array", ""
    return "object", ""


def validate_node(value: Any, node: SchemaNode) -> list[Cause]:
    """Validates a value against a compiled schema node (`SchemaValidator.Validate`).

    Args:
        value: The (pruned and defaulted) object.
        node: The compiled root schema.

    Returns:
        The causes; empty when valid.
    """
    causes: list[Cause] = []
    _Validator(causes).check(value, node, "")
    return causes


# -- validation ----------------------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Validator:
    """Collects causes while walking an object and its schema together."""

    def __init__(self, causes: list[Cause]) -> None:
        self.causes = causes

    def _invalid(self, path: str, value: Any, message: str) -> None:
        self.causes.append(fe.invalid(path, value, message))

    def check(self, value: Any, node: SchemaNode, path: str) -> None:
        """Validates `value` at `path` against `node` (`SchemaValidator.Validate`)."""
        if value is None:
            self._check_type(value, node, path)
            self._check_enum(value, node, path)
            return
        self._check_type(value, node, path)
        self._check_composition(value, node, path)
        if isinstance(value, str):
            self._check_string(value, node, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._check_number(value, node, path)
        elif isinstance(value, list):
            self._check_array(value, node, path)
        if node.enum is not None:
            self._check_enum(value, node, path)
        if isinstance(value, dict):
            self._check_object(value, node, path)

    # type ---------------------------------------------------------------------------------------

    def _check_type(self, value: Any, node: SchemaNode, path: str) -> None:
        types = node.types
        if not types and not node.format:
            return
        if value is None:
            if types and "null" not in types and not node.nullable:
                self._type_error(path, ",".join(types), "null")
            return
        sch_type, data_format = _json_type(value)
        is_float_int = sch_type == "number" and float(value).is_integer() and "integer" in types
        is_int_float = sch_type == "integer" and "number" in types
        type_ok = sch_type in types or is_float_int or is_int_float
        if not isinstance(value, str | list) and node.format and not type_ok and data_format != node.format:
            self._type_error(path, node.format, data_format)
            return
        if not ("number" in types or "integer" in types) and node.format and isinstance(value, str | list):
            return
        if not type_ok:
            self._type_error(path, ",".join(types), sch_type)

    def _type_error(self, path: str, type_name: str, got: str) -> None:
        self.causes.append(fe.type_invalid(path, got, f'{path} in body must be of type {type_name}: "{got}"'))

    # scalars ------------------------------------------------------------------------------------

    def _check_string(self, value: str, node: SchemaNode, path: str) -> None:
        if node.max_length is not None and len(value) > node.max_length:
            self.causes.append(fe.too_long(path, node.max_length))
        if node.min_length is not None and len(value) < node.min_length:
            self._invalid(path, value, f"{path} in body should be at least {node.min_length} chars long")
        if node.pattern_text is not None:
            pattern = node.pattern
            if pattern is not None and pattern.search(value) is None:
                self._invalid(path, value, f"{path} in body should match '{node.pattern_text}'")
        if node.format and not FORMATS[node.format](value):
            self.causes.append(
                fe.type_invalid(path, value, f'{path} in body must be of type {node.format}: "{value}"')
            )

    def _check_number(self, value: float, node: SchemaNode, path: str) -> None:
        if node.multiple_of is not None and node.multiple_of > 0:
            quotient = value / node.multiple_of
            if not float(quotient).is_integer():
                limit = fe.format_number(node.multiple_of)
                self._invalid(path, value, f"{path} in body should be a multiple of {limit}")
        if node.maximum is not None:
            limit = fe.format_number(node.maximum)
            if node.exclusive_maximum and value >= node.maximum:
                self._invalid(path, value, f"{path} in body should be less than {limit}")
            elif not node.exclusive_maximum and value > node.maximum:
                self._invalid(path, value, f"{path} in body should be less than or equal to {limit}")
        if node.minimum is not None:
            limit = fe.format_number(node.minimum)
            if node.exclusive_minimum and value <= node.minimum:
                self._invalid(path, value, f"{path} in body should be greater than {limit}")
            elif not node.exclusive_minimum and value < node.minimum:
                self._invalid(path, value, f"{path} in body should be greater than or equal to {limit}")

    def _check_enum(self, value: Any, node: SchemaNode, path: str) -> None:
        if node.enum is None or any(json_equal(value, allowed) for allowed in node.enum):
            return
        supported = [a if isinstance(a, str) else fe.format_value(a) for a in node.enum]
        self.causes.append(fe.not_supported(path, value, supported))

    # arrays -------------------------------------------------------------------------------------

    def _check_array(self, value: list[Any], node: SchemaNode, path: str) -> None:
        items = node.items
        if items is not None:
            for i, item in enumerate(value):
                self.check(item, items, f"{path}[{i}]")
        size = len(value)
        if node.min_items is not None and size < node.min_items:
            self._invalid(path, size, f"{path} in body should have at least {node.min_items} items")
        if node.max_items is not None and size > node.max_items:
            self.causes.append(fe.too_many(path, size, node.max_items))
        if node.unique_items and _has_duplicates(value):
            self._invalid(path, "", f"{path} in body shouldn't contain duplicates")
        if node.list_type == "set":
            self._check_set(value, path)
        elif node.list_type == "map" and node.list_map_keys:
            self._check_list_map(value, node.list_map_keys, path)

    def _check_set(self, value: list[Any], path: str) -> None:
        for i, item in enumerate(value):
            if any(json_equal(item, earlier) for earlier in value[:i]):
                self.causes.append(fe.duplicate(f"{path}[{i}]", item))

    def _check_list_map(self, value: list[Any], keys: tuple[str, ...], path: str) -> None:
        seen: list[dict[str, Any]] = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            identity = {k: item[k] for k in keys if k in item}
            if any(json_equal(identity, earlier) for earlier in seen):
                self.causes.append(fe.duplicate(f"{path}[{i}]", identity))
            else:
                seen.append(identity)

    # objects ------------------------------------------------------------------------------------

    def _check_object(self, value: dict[str, Any], node: SchemaNode, path: str) -> None:
        count = len(value)
        if node.min_properties is not None and count < node.min_properties:
            self._invalid(
                path, count, f"{path} in body should have at least {node.min_properties} properties"
            )
            return
        if node.max_properties is not None and count > node.max_properties:
            self.causes.append(fe.too_many(path, count, node.max_properties))
            return
        additional = node.additional
        for key, child in value.items():
            sub = node.prop(key)
            if sub is not None:
                self.check(child, sub, _join(path, key))
            elif additional is not None:
                self.check(child, additional, f"{path}.{key}")
            elif not node.additional_allowed:
                self._invalid(_join(path, key), key, f"{path}.{key} in body is a forbidden property")
        for key in node.required:
            if key not in value:
                self.causes.append(fe.required(_join(path, key)))
        if node.embedded:
            self._check_embedded(value, path)

    def _check_embedded(self, value: dict[str, Any], path: str) -> None:
        for key in ("apiVersion", "kind"):
            field = _join(path, key)
            if key not in value:
                self.causes.append(fe.required(field, "must not be empty"))
            elif not isinstance(value[key], str):
                self._invalid(field, value[key], "must be a string")
            elif not value[key]:
                self._invalid(field, value[key], "must not be empty")
            elif key == "apiVersion" and value[key].count("/") > 1:
                self._invalid(field, value[key], f"unexpected GroupVersion string: {value[key]}")

    # composition --------------------------------------------------------------------------------

    def _sub_causes(self, value: Any, node: SchemaNode, path: str) -> list[Cause]:
        found: list[Cause] = []
        _Validator(found).check(value, node, path)
        return found

    def _check_composition(self, value: Any, node: SchemaNode, path: str) -> None:
        if not node.has_composition:
            return
        if "anyOf" in node.raw:
            results = [self._sub_causes(value, sub, path) for sub in node.any_of]
            if results and all(results):
                self._invalid(path, "", f'"{path}" must validate at least one schema (anyOf)')
                self.causes.extend(_fewest(results))
        if "oneOf" in node.raw:
            results = [self._sub_causes(value, sub, path) for sub in node.one_of]
            valid = sum(1 for r in results if not r)
            if results and valid != 1:
                detail = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                self._invalid(path, "", f'"{path}" must validate one and only one schema (oneOf). {detail}')
                if valid == 0:
                    self.causes.extend(_fewest(results))
        if "allOf" in node.raw:
            results = [self._sub_causes(value, sub, path) for sub in node.all_of]
            failed = [r for r in results if r]
            for r in failed:
                self.causes.extend(r)
            if failed:
                suffix = ". None validated" if len(failed) == len(results) else ""
                self._invalid(path, "", f'"{path}" must validate all the schemas (allOf){suffix}')
        negated = node.negated
        if negated is not None and not self._sub_causes(value, negated, path):
            self._invalid(path, "", f'"{path}" must not validate the schema (not)')


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The failures of the alternative that came closest to validating."""
    best = results[0]
    for found in results[1:]:
        if len(found) < len(best):
            best = found
    return best


def _has_duplicates(values: list[Any]) -> bool:
    return any(json_equal(item, earlier) for i, item in enumerate(values) for earlier in values[:i])
