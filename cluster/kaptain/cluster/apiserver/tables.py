"""`meta.k8s.io` Table and PartialObjectMetadata renderings of objects.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the columns
the server chooses. Columns come from the resource type's printer columns: a CRD's
`additionalPrinterColumns` (JSONPath) or, for built-in kinds, columns with a `compute` function.
As the Kubernetes apiserver does, `date` columns are rendered as an age ("5m") and only the first
JSONPath match is printed.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.jsonpath import JsonPathError, compile_path, format_value
from kaptain.cluster.apiserver.printers import human_duration, parse_time
from kaptain.cluster.apiserver.resources import PrinterColumn, ResourceType

Object = dict[str, Any]

_log = logging.getLogger(__name__)
_NAME_COLUMN: dict[str, Any] = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
_AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
INCLUDE_OBJECT = ("Object", "Metadata", "None")


def check_include_object(value: str | None) -> str:
    """Validates the `includeObject` query parameter.

    Args:
        value: The parameter, or `None` when absent.

    Returns:
        "Object", "Metadata" (the default) or "None".

    Raises:
        ApiError: 400 for any other value.
    """
    if value is None or value == "":
        return "Metadata"
    if value not in INCLUDE_OBJECT:
        raise ApiError.bad_request(
            f'includeObject: Unsupported value: "{value}": supported values: "Object", "Metadata", "None"'
        )
    return value


def columns_of(rt: ResourceType) -> list[PrinterColumn]:
    """The printer columns of a type after the name column (NAME, AGE when it declares none).

    Args:
        rt: The resource type.

    Returns:
        Its columns.
    """
    return list(rt.printer_columns) if rt.printer_columns else [_AGE]


def _prepends_name(rt: ResourceType) -> bool:
    # Custom resources always get NAME first (as the CRD table convertor does); a built-in kind
    # whose columns place the name themselves (events print it last, in -o wide) does not.
    return rt.schema is not None or not any(col.format == "name" for col in rt.printer_columns)


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """The `TableColumnDefinition`s of a type, name column first unless the type places it.

    Args:
        rt: The resource type.

    Returns:
        The definitions.
    """
    out = [dict(_NAME_COLUMN)] if _prepends_name(rt) else []
    for col in columns_of(rt):
        out.append(
            {
                "name": col.name,
                "type": col.type,
                "format": col.format,
                "description": col.description
                or f"Custom resource definition column (in JSONPath format): {col.json_path}",
                "priority": col.priority,
            }
        )
    return out


def partial_metadata(obj: Object, api_version: str = "v1") -> Object:
    """The `PartialObjectMetadata` of an object.

    Args:
        obj: The object.
        api_version: The meta.k8s.io version to answer with.

    Returns:
        The object's metadata in a PartialObjectMetadata envelope.
    """
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{api_version}",
        "metadata": obj.get("metadata", {}),
    }


def partial_metadata_list(items: list[Object], resource_version: str, api_version: str = "v1") -> Object:
    """A `PartialObjectMetadataList` of objects.

    Args:
        items: The objects.
        resource_version: The list's resourceVersion.
        api_version: The meta.k8s.io version to answer with.

    Returns:
        The list.
    """
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": f"meta.k8s.io/{api_version}",
        "metadata": {"resourceVersion": resource_version},
        "items": [partial_metadata(o, api_version) for o in items],
    }


def table(
    rt: ResourceType,
    objects: list[Object],
    *,
    resource_version: str | None,
    include_object: str = "Metadata",
    api_version: str = "v1",
    with_columns: bool = True,
    now: datetime.datetime | None = None,
) -> Object:
    """Renders objects as a `Table`.

    Args:
        rt: The objects' resource type.
        objects: The objects, in row order.
        resource_version: The table's `metadata.resourceVersion` (a list's or the object's).
        include_object: What each row embeds: "Object", "Metadata" or "None".
        api_version: The meta.k8s.io version to answer with ("v1" or "v1beta1").
        with_columns: False to leave out column definitions (watch events after the first).
        now: The time ages are computed against (defaults to now).

    Returns:
        The Table.
    """
    when = now or datetime.datetime.now(datetime.UTC)
    columns = columns_of(rt)
    prepend = _prepends_name(rt)

    def name_cell(obj: Object) -> list[Any]:
        return [obj.get("metadata", {}).get("name", "")] if prepend else []

    rows = []
    for obj in objects:
        row: Object = {"cells": [*name_cell(obj), *(_cell(col, obj, when) for col in columns)]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "Metadata":
            row["object"] = partial_metadata(obj, api_version)
        rows.append(row)
    out: Object = {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{api_version}",
        "metadata": {"resourceVersion": resource_version} if resource_version else {},
        "columnDefinitions": column_definitions(rt) if with_columns else [],
        "rows": rows,
    }
    return out


def _cell(col: PrinterColumn, obj: Object, now: datetime.datetime) -> Any:
    if col.compute is not None:
        try:
            value = col.compute(obj)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A malformed object must not break a whole listing; Kubernetes prints <none> too.
            _log.debug("printer column %s failed on %s", col.name, obj.get("metadata", {}).get("name"))
            return None
        return _date_cell(value, now) if col.type == "date" else value
    try:
        found = compile_path(col.json_path).find(obj)
    except JsonPathError:
        return None
    if not found:
        return None
    value = found[0]
    if col.type == "date":
        return _date_cell(value, now)
    if col.type == "string":
        return format_value(value)
    if col.type == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if col.type == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if col.type == "boolean":
        return value if isinstance(value, bool) else None
    return format_value(value)


def _date_cell(value: Any, now: datetime.datetime) -> Any:
    if not isinstance(value, str):
        return value
    when = parse_time(value)
    if when is None:
        return "<invalid>"
    return human_duration((now - when).total_seconds())
