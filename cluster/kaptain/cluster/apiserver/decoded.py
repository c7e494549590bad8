"""Typed access to decoded JSON for the kind validators.

Objects reach validation as decoded JSON, so a field of the wrong JSON type is reported as a cause
(as kube-apiserver's decoder would reject it) and read as empty, rather than raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaptain.cluster.apiserver import fielderrors as fe

__all__ = [
    "NEGATIVE",
    "NOT_POSITIVE",
    "Cause",
    "as_int",
    "as_list",
    "as_object",
    "as_str",
    "check_non_negative",
    "check_one_of",
    "check_positive",
]

Cause = dict[str, str]
NEGATIVE = "must be greater than or equal to 0"
NOT_POSITIVE = "must be greater than zero"


def as_object(value: Any, path: str, causes: list[Cause]) -> dict[str, Any]:
    """Reads a field that must be a JSON object.

    Args:
        value: The decoded field (None when absent).
        path: Its field path, for the cause.
        causes: Where a wrong-type cause is appended.

    Returns:
        `value`, or `{}` when it is missing or not an object.
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    causes.append(fe.invalid(path, value, "must be an object"))
    return {}


def as_list(value: Any, path: str, causes: list[Cause]) -> list[Any]:
    """Reads a field that must be a JSON array.

    Args:
        value: The decoded field (None when absent).
        path: Its field path, for the cause.
        causes: Where a wrong-type cause is appended.

    Returns:
        `value`, or `[]` when it is missing or not a list.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    causes.append(fe.invalid(path, value, "must be a list"))
    return []


def as_str(value: Any, path: str, causes: list[Cause]) -> str:
    """Reads a field that must be a JSON string.

    Args:
        value: The decoded field (None when absent).
        path: Its field path, for the cause.
        causes: Where a wrong-type cause is appended.

    Returns:
        `value`, or `""` when it is missing or not a string.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    causes.append(fe.invalid(path, value, "must be a string"))
    return ""


def as_int(value: Any, path: str, causes: list[Cause]) -> int | None:
    """Reads a field that must be a JSON integer; integral floats count, as JSON has one number type.

    Args:
        value: The decoded field (None when absent).
        path: Its field path, for the cause.
        causes: Where a wrong-type cause is appended.

    Returns:
        The integer, or None when it is missing or not an integer.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    causes.append(fe.invalid(path, value, "must be an integer"))
    return None


def check_non_negative(parent: Mapping[str, Any], name: str, path: str, causes: list[Cause]) -> None:
    """Checks that an optional integer field is not negative.

    Args:
        parent: The object holding the field.
        name: The field's name.
        path: The field path of `parent`.
        causes: Where a wrong-type or negative-value cause is appended.
    """
    value = as_int(parent.get(name), fe.child(path, name), causes)
    if value is not None and value < 0:
        causes.append(fe.invalid(fe.child(path, name), value, NEGATIVE))


def check_positive(parent: Mapping[str, Any], name: str, path: str, causes: list[Cause]) -> None:
    """Checks that an optional integer field is greater than zero.

    Args:
        parent: The object holding the field.
        name: The field's name.
        path: The field path of `parent`.
        causes: Where a wrong-type or non-positive cause is appended.
    """
    value = as_int(parent.get(name), fe.child(path, name), causes)
    if value is not None and value <= 0:
        causes.append(fe.invalid(fe.child(path, name), value, NOT_POSITIVE))


def check_one_of(value: str, allowed: tuple[str, ...], path: str, causes: list[Cause]) -> None:
    """Checks an enumerated string field.

    Args:
        value: The field's value.
        allowed: The supported values.
        path: The field path.
        causes: Where a `NotSupported` cause is appended.
    """
    if value not in allowed:
        causes.append(fe.not_supported(path, value, allowed))
