"""Label and field selectors, as `?labelSelector=` / `?fieldSelector=` and `Job.spec.selector` use them.

Label selectors follow `k8s.io/apimachinery/pkg/labels`: requirements joined by commas (AND), each
`key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`, `!key`,
`key>3`, `key<3`. Field selectors follow `k8s.io/apimachinery/pkg/fields`: `key=value`,
`key==value`, `key!=value` joined by commas, with `\\` escaping `,`, `=` and `!` in values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
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


# -- field selectors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    """One field requirement: `field op value` with op `=`, `==` or `!=`."""

    field: str
    op: str
    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace("!", "\\!")
        return f"{self.field}{self.op}{escaped}"


_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_KIND_FIELDS: dict[str, frozenset[str]] = {
    "Pod": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "Event": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    "Secret": frozenset({"type"}),
    "Namespace": frozenset({"status.phase"}),
    "Job": frozenset({"status.successful"}),
    "Node": frozenset({"spec.unschedulable"}),
    "ReplicaSet": frozenset({"status.replicas"}),
    "ReplicationController": frozenset({"status.replicas"}),
}
# Field labels whose value is not at the dotted path of the same name.
_ALIASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Event", "source"): ("source", "component"),
    ("Job", "status.successful"): ("status", "succeeded"),
}
# What a missing field renders as, where Go renders the zero value of a non-string field.
_ZERO_VALUES: dict[tuple[str, str], str] = {
    ("Pod", "spec.hostNetwork"): "false",
    ("Job", "status.successful"): "0",
    ("Node", "spec.unschedulable"): "false",
    ("ReplicaSet", "status.replicas"): "0",
    ("ReplicationController", "status.replicas"): "0",
}


def supported_fields(kind: str) -> set[str]:
    """The field labels the apiserver accepts in field selectors for a kind.

    Every kind supports `metadata.name` and `metadata.namespace`; pods, events, secrets,
    namespaces and jobs add their own (`status.phase`, `involvedObject.name`, `type`, ...).

    Args:
        kind: The kind (`Pod`, `Event`, a custom resource kind, ...).

    Returns:
        The supported field labels.
    """
    return set(_COMMON_FIELDS | _KIND_FIELDS.get(kind, frozenset()))


def field_value(obj: Mapping[str, Any], label: str, kind: str | None = None) -> str:
    """The string value a field label has on an object (`fields.Set` of the kind's strategy).

    Missing values are `""` (or the Go zero value for booleans and counts, e.g. `false` for a
    pod's `spec.hostNetwork`), so `spec.nodeName=` selects unscheduled pods; booleans are
    `true`/`false` and numbers their decimal form.

    Args:
        obj: The object.
        label: The field label, a dotted path (`status.phase`).
        kind: The object's kind; defaults to `obj["kind"]`.

    Returns:
        The value to compare.
    """
    kind = kind or str(obj.get("kind", ""))
    path = _ALIASES.get((kind, label), tuple(label.split(".")))
    zero = _ZERO_VALUES.get((kind, label), "")
    node: Any = obj
    for part in path:
        if not isinstance(node, Mapping):
            return zero
        node = node.get(part)
    if node is None:
        return zero
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, str | int | float):
        return str(node)
    return ""


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of field requirements. No requirements selects everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any], kind: str | None = None) -> bool:
        """Whether an object is selected.

        Args:
            obj: The object.
            kind: Its kind, for kind-specific field labels; defaults to `obj["kind"]`.

        Returns:
            True when every requirement holds.
        """
        for r in self.requirements:
            equal = field_value(obj, r.field, kind) == r.value
            if equal == (r.op == "!="):
                return False
        return True

    def fields(self) -> set[str]:
        """The field labels this selector uses.

        Returns:
            The labels, e.g. `{"metadata.name", "status.phase"}`.
        """
        return {r.field for r in self.requirements}

    def check_supported(self, kind: str, extra: set[str] | None = None) -> None:
        """Rejects field labels the kind does not support, as the apiserver does.

        Args:
            kind: The kind being listed or watched.
            extra: Further supported labels (a CRD's `selectableFields`).

        Raises:
            ApiError: 400 `field label not supported: <label>`.
        """
        allowed = supported_fields(kind) | (extra or set())
        for r in self.requirements:
            if r.field not in allowed:
                raise ApiError.bad_request(f"field label not supported: {r.field}")

    def empty(self) -> bool:
        """Whether this selector selects everything.

        Returns:
            True for a selector without requirements.
        """
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def parse_field_selector(text: str) -> FieldSelector:
    """Parses a field selector string (`fields.ParseSelector`).

    Args:
        text: E.g. `metadata.name=web,status.phase!=Running`. Empty selects everything.

    Returns:
        The selector.

    Raises:
        ApiError: 400 `invalid selector: '<text>'; can't understand '<term>'` for a term without
            an operator.
    """
    requirements: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        parsed = _parse_field_term(term)
        if parsed is None:
            raise ApiError.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        requirements.append(parsed)
    return FieldSelector(tuple(requirements))


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _parse_field_term(term: str) -> FieldRequirement | None:
    escaped = False
    for i, ch in enumerate(term):
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return FieldRequirement(term[:i].strip(), op, _unescape(term[i + len(op) :]))
    return None


def _unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)
