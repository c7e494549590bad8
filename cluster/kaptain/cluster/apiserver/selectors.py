"""Label and field selectors, as `?labelSelector=` / `?fieldSelector=` and `Job.spec.selector` use them.

Label selectors follow `k8s.io/apimachinery/pkg/labels`: requirements joined by commas (AND), each
`key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`, `!key`,
`key>3`, `key<3`. Field selectors live in `field_selectors` and are re-exported here, so callers
import both kinds of selector from this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.field_selectors import (
    FieldRequirement,
    FieldSelector,
    field_value,
    parse_field_selector,
    supported_fields,
)
from kaptain.cluster.apiserver.fielderrors import format_value
from kaptain.cluster.apiserver.names import is_qualified_name, is_valid_label_value

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "field_value",
    "label_selector_from_spec",
    "parse_field_selector",
    "parse_label_selector",
    "supported_fields",
]

# -- label selectors -----------------------------------------------------------------------------

_EQUALITY_OPS = ("=", "==", "!=")
_SET_OPS = ("in", "notin")
_ORDER_OPS = (">", "<")
_OPERATOR_NAMES = "in, notin, =, ==, !=, gt, lt"


@dataclass(frozen=True)
class Requirement:
    """One label requirement: `key op values`.

    `op` is one of `=`, `==`, `!=`, `in`, `notin`, `exists`, `!`, `>`, `<`. `values` is sorted and
    de-duplicated (empty for `exists` and `!`, one value for the others except `in`/`notin`).
    """

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement (`labels.Requirement.Matches`).

        Args:
            labels: The object's labels.

        Returns:
            True when satisfied. `!=` and `notin` are satisfied by objects without the label.
        """
        present = self.key in labels
        if self.op in ("=", "==", "in"):
            return present and labels[self.key] in self.values
        if self.op in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present:
            return False
        try:
            have = int(labels[self.key])
        except ValueError:
            return False
        limit = int(self.values[0])
        return have > limit if self.op == ">" else have < limit

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in _SET_OPS:
            return f"{self.key} {self.op} ({','.join(self.values)})"
        return f"{self.key}{self.op}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of label requirements. No requirements selects everything.

    `nothing=True` is the selector that matches no object (a nil `LabelSelector` in Go).
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels is selected.

        Args:
            labels: The object's `metadata.labels` (None for none).

        Returns:
            True when every requirement holds.
        """
        if self.nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def empty(self) -> bool:
        """Whether this selector selects everything.

        Returns:
            True for a selector without requirements (and not the nil selector).
        """
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


class _LabelScanner:
    """Tokenizer of `labels.Parse`: identifiers, operators, parentheses and commas."""

    _TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|<|>|[^\s!=<>(),]+)")

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            match = self._TOKEN.match(text, pos)
            if match is None:
                # Only trailing whitespace is left.
                break
            self.tokens.append(match.group(1))
            pos = match.end()
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        if token is not None:
            self.pos += 1
        return token


def _is_identifier(token: str | None) -> bool:
    return token is not None and token not in ("==", "!=", "=", "!", "(", ")", ",", "<", ">")


def _describe(token: str | None) -> str:
    return "end of string" if token is None else token


def parse_label_selector(text: str) -> LabelSelector:
    """Parses a label selector string (`labels.Parse`).

    Args:
        text: E.g. `app=web,tier in (front,back),!canary`. Empty selects everything.

    Returns:
        The selector, requirements sorted by key as Kubernetes keeps them.

    Raises:
        ApiError: 400 `BadRequest` for a syntax error or an invalid key or value, with the
            apiserver's wording (`unable to parse requirement: ...`).
    """
    scanner = _LabelScanner(text)
    requirements: list[Requirement] = []
    while True:
        token = scanner.peek()
        if token is None:
            break
        if not (_is_identifier(token) or token == "!"):
            raise ApiError.bad_request(f"found '{token}', expected: !, identifier, or 'end of string'")
        try:
            requirements.append(_parse_requirement(scanner))
        except ValueError as exc:
            raise ApiError.bad_request(f"unable to parse requirement: {exc}") from exc
        token = scanner.take()
        if token is None:
            break
        if token != ",":
            raise ApiError.bad_request(f"found '{token}', expected: ',' or 'end of string'")
        if scanner.peek() is None:
            raise ApiError.bad_request("found 'end of string', expected: identifier after ','")
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


def _parse_requirement(scanner: _LabelScanner) -> Requirement:
    if scanner.peek() == "!":
        scanner.take()
        key = scanner.take()
        if not _is_identifier(key):
            raise ValueError(f"found '{_describe(key)}', expected: identifier")
        assert key is not None
        return _requirement(key, "!", [])
    key = scanner.take()
    assert key is not None
    op = scanner.peek()
    if op is None or op == ",":
        return _requirement(key, "exists", [])
    scanner.take()
    if op in ("in", "notin"):
        opening = scanner.take()
        if opening != "(":
            raise ValueError(f"found '{_describe(opening)}', expected: '('")
        return _requirement(key, op, _parse_value_set(scanner))
    if op not in (*_EQUALITY_OPS, *_ORDER_OPS):
        raise ValueError(f"found '{op}', expected: {_OPERATOR_NAMES}")
    value = scanner.peek()
    if value is None or value == ",":
        value = ""
    else:
        scanner.take()
        if not _is_identifier(value):
            raise ValueError(f"found '{value}', expected: identifier")
    return _requirement(key, op, [value])


def _parse_value_set(scanner: _LabelScanner) -> list[str]:
    values: list[str] = []
    expect_value = True
    while True:
        token = scanner.take()
        if token is None:
            raise ValueError("found 'end of string', expected: ')'")
        if token == ")":
            if expect_value and values:
                # "a in (x,)" names the empty string as a value.
                values.append("")
            return values
        if token == ",":
            if expect_value:
                values.append("")
            expect_value = True
            continue
        if not _is_identifier(token) or not expect_value:
            raise ValueError(f"found '{token}', expected: ',', ')' or identifier")
        values.append(token)
        expect_value = False


def _requirement(key: str, op: str, values: list[str]) -> Requirement:
    """`labels.NewRequirement`: validates key and values."""
    for message in is_qualified_name(key):
        raise ValueError(f"key: Invalid value: {format_value(key)}: {message}")
    if op in _SET_OPS and not values:
        raise ValueError("for 'in', 'notin' operators, values set can't be empty")
    if op in _ORDER_OPS:
        try:
            int(values[0])
        except ValueError:
            raise ValueError(
                f"for 'Gt', 'Lt' operators, the value must be an integer: {values[0]!r}"
            ) from None
    else:
        for i, value in enumerate(values):
            for message in is_valid_label_value(value):
                raise ValueError(f"values[{i}][{key}]: Invalid value: {format_value(value)}: {message}")
    return Requirement(key, op, tuple(sorted(set(values))))


def label_selector_from_spec(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Converts a `metav1.LabelSelector` (`matchLabels` + `matchExpressions`) into a selector.

    Args:
        selector: The spec, e.g. `Job.spec.selector`. None selects nothing and `{}` everything,
            as `metav1.LabelSelectorAsSelector` defines.

    Returns:
        The selector.

    Raises:
        ApiError: 400 for an unknown operator, values on Exists/DoesNotExist, no values on
            In/NotIn, or an invalid key or value.
    """
    if selector is None:
        return LabelSelector(nothing=True)
    requirements: list[Requirement] = []
    try:
        for key, value in (selector.get("matchLabels") or {}).items():
            requirements.append(_requirement(str(key), "=", [str(value)]))
        for expression in selector.get("matchExpressions") or []:
            requirements.append(_expression(expression))
    except ValueError as exc:
        raise ApiError.bad_request(str(exc)) from exc
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


def _expression(expression: Mapping[str, Any]) -> Requirement:
    key = str(expression.get("key", ""))
    operator = expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    if operator in ("In", "NotIn"):
        if not values:
            raise ValueError(
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
            )
        return _requirement(key, "in" if operator == "In" else "notin", values)
    if operator in ("Exists", "DoesNotExist"):
        if values:
            raise ValueError(
                "values: Invalid value: "
                + ",".join(values)
                + ": values set must be empty for exists and does not exist"
            )
        return _requirement(key, "exists" if operator == "Exists" else "!", [])
    raise ValueError(f'"{operator}" is not a valid label selector operator')
