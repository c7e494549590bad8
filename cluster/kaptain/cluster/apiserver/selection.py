"""The object filter of a list or watch request, built once from its label and field selectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.selectors import parse_field_selector, parse_label_selector

Object = dict[str, Any]
Matcher = Callable[[Object], bool]


def _everything(obj: Object) -> bool:
    return True


def matcher_for(rt: ResourceType, label_selector: str | None, field_selector: str | None) -> Matcher:
    """Builds the filter for a list or watch.

    Args:
        rt: The listed resource (field labels are checked against its kind).
        label_selector: `?labelSelector=` text, or None.
        field_selector: `?fieldSelector=` text, or None.

    Returns:
        A predicate on stored objects; a constant for "no selector" so the common case stays cheap.

    Raises:
        ApiError: 400 for a malformed selector or an unsupported field label.
    """
    labels = parse_label_selector(label_selector) if label_selector else None
    fields = parse_field_selector(field_selector) if field_selector else None
    if fields is not None:
        fields.check_supported(rt.kind)
    if labels is not None and labels.empty():
        labels = None
    if fields is not None and fields.empty():
        fields = None
    if labels is None and fields is None:
        return _everything
    kind = rt.kind

    def matches(obj: Object) -> bool:
        if labels is not None and not labels.matches((obj.get("metadata") or {}).get("labels")):
            return False
        return fields is None or fields.matches(obj, kind)

    return matches
