"""Field selectors, as `?fieldSelector=` uses them (`k8s.io/apimachinery/pkg/fields`).

`key=value`, `key==value`, `key!=value` joined by commas, with `\\` escaping `,`, `=` and `!` in
values; which field labels a kind supports and how each is read off an object follow the kinds'
registry strategies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "field_value",
    "parse_field_selector",
    "supported_fields",
]


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
