"""Kubernetes field errors (`k8s.io/apimachinery/pkg/util/validation/field`) as `StatusCause` dicts.

The API server reports a 422 `Invalid` with one cause per field error. Clients (kubectl in
particular) print `<field>: <message>`, so the messages follow `field.Error.ErrorBody()` exactly:
`Required value`, `Invalid value: "x": <detail>`, `Unsupported value: "x": supported values: "a", "b"`,
`Duplicate value: "x"`, `Forbidden: <detail>`, `Too long: may not be more than 253 bytes`,
`Too many: 5: must have at most 4 items`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from kaptain.cluster.apiserver.errors import cause

Cause = dict[str, str]


def format_value(value: Any) -> str:
    """Renders a bad value the way `field.Error.ErrorBody` does for JSON data.

    Strings are double-quoted, numbers and booleans bare (`true`, `3`, `1.5`), `None` is `null`,
    and maps and lists are rendered as compact JSON.

    Args:
        value: The offending value.

    Returns:
        The rendering used inside cause messages.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


def format_number(value: float | int) -> str:
    """Formats a number as Go's `%v` does for the float64 values of decoded JSON.

    Args:
        value: The number.

    Returns:
        `1` for 1.0, `1.5` for 1.5, `1e+21` for very large values.
    """
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    # Go writes exponents with a sign and at least two digits (1e+21, 1e-07).
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        sign = "-" if exponent.startswith("-") else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def required(field: str, detail: str = "") -> Cause:
    """`field.Required`: a missing value.

    Args:
        field: The field path (`spec.containers[0].image`).
        detail: Optional explanation appended after `Required value: `.

    Returns:
        A `FieldValueRequired` cause.
    """
    message = "Required value" + (f": {detail}" if detail else "")
    return cause(field, message, "FieldValueRequired")


def invalid(field: str, value: Any, detail: str = "") -> Cause:
    """`field.Invalid`: a value that is present but wrong.

    Args:
        field: The field path.
        value: The offending value.
        detail: Why it is wrong.

    Returns:
        A `FieldValueInvalid` cause.
    """
    message = f"Invalid value: {format_value(value)}" + (f": {detail}" if detail else "")
    return cause(field, message, "FieldValueInvalid")


def type_invalid(field: str, value: Any, detail: str) -> Cause:
    """`field.TypeInvalid`: a value of the wrong JSON type (schema validation).

    Args:
        field: The field path.
        value: What the API server shows as the value (the type name for schema errors).
        detail: The schema validator's message.

    Returns:
        A `FieldValueTypeInvalid` cause.
    """
    return cause(field, f"Invalid value: {format_value(value)}: {detail}", "FieldValueTypeInvalid")


def not_supported(field: str, value: Any, supported: Iterable[str]) -> Cause:
    """`field.NotSupported`: a value outside an enumeration.

    Args:
        field: The field path.
        value: The offending value.
        supported: The allowed values, in the order they are listed.

    Returns:
        A `FieldValueNotSupported` cause.
    """
    quoted = ", ".join(json.dumps(str(v), ensure_ascii=False) for v in supported)
    message = f"Unsupported value: {format_value(value)}" + (
        f": supported values: {quoted}" if quoted else ""
    )
    return cause(field, message, "FieldValueNotSupported")


def duplicate(field: str, value: Any) -> Cause:
    """`field.Duplicate`: a value that must be unique appears twice.

    Args:
        field: The field path of the second occurrence.
        value: The duplicated value.

    Returns:
        A `FieldValueDuplicate` cause.
    """
    return cause(field, f"Duplicate value: {format_value(value)}", "FieldValueDuplicate")


def forbidden(field: str, detail: str) -> Cause:
    """`field.Forbidden`: a field that may not be set here.

    Args:
        field: The field path.
        detail: Why.

    Returns:
        A `FieldValueForbidden` cause.
    """
    return cause(field, f"Forbidden: {detail}", "FieldValueForbidden")


def too_long(field: str, max_length: int) -> Cause:
    """`field.TooLong`: a string or byte total above its limit.

    Args:
        field: The field path.
        max_length: The limit in bytes.

    Returns:
        A `FieldValueTooLong` cause.
    """
    unit = "byte" if max_length == 1 else "bytes"
    return cause(field, f"Too long: may not be more than {max_length} {unit}", "FieldValueTooLong")


def too_many(field: str, actual: int, maximum: int) -> Cause:
    """`field.TooMany`: a list or map with too many entries.

    Args:
        field: The field path.
        actual: How many there are.
        maximum: How many are allowed.

    Returns:
        A `FieldValueTooMany` cause.
    """
    unit = "item" if maximum == 1 else "items"
    return cause(field, f"Too many: {actual}: must have at most {maximum} {unit}", "FieldValueTooMany")


def child(path: str, name: str) -> str:
    """Appends a field name to a path (`field.Path.Child`).

    Args:
        path: The parent path, possibly empty.
        name: The child field.

    Returns:
        `path.name`, or `name` at the root.
    """
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    """Appends a list index to a path (`field.Path.Index`).

    Args:
        path: The list's path.
        i: The index.

    Returns:
        `path[i]`.
    """
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """Appends a map key to a path (`field.Path.Key`).

    Args:
        path: The map's path.
        k: The key.

    Returns:
        `path[k]`.
    """
    return f"{path}[{k}]"


def not_found(field: str, value: Any) -> Cause:
    """`field.NotFound`: a reference to something that does not exist (a volume name, ...).

    Args:
        field: The field path.
        value: The reference.

    Returns:
        A `FieldValueNotFound` cause.
    """
    return cause(field, f"Not found: {format_value(value)}", "FieldValueNotFound")
