"""CustomResourceDefinition validation: upstream CRDs, naming and version rules, structural schemas."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kaptain.cluster.apiserver.validation import validate_builtin
from tests.conftest import CRDS


@pytest.mark.parametrize(
    "filename",
    [
        "kubeflow.org_pytorchjobs.yaml",
        "kubeflow.org_tfjobs.yaml",
        "serving.kserve.io_inferenceservices.yaml",
        "experiment.yaml",
        "trial.yaml",
        "suggestion.yaml",
    ],
)
def test_upstream_crds_are_valid(filename: str) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load((CRDS / filename).read_text(), Loader=loader)
    assert validate_builtin("CustomResourceDefinition", crd) == []


def _crd(**spec: Any) -> dict[str, Any]:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    crd["spec"].update(spec)
    return crd


def test_crd_rules() -> None:
    assert validate_builtin("CustomResourceDefinition", _crd()) == []
    wrong_name = _crd()
    wrong_name["metadata"]["name"] = "widgets.other.com"
    assert validate_builtin("CustomResourceDefinition", wrong_name) == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "widgets.other.com": must be spec.names.plural+"."+spec.group',
            "field": "metadata.name",
        }
    ]
    two_storage = _crd(
        versions=[
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object"}},
            },
            {
                "name": "v2",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object"}},
            },
        ]
    )
    assert [
        c["message"].split(": ")[-1] for c in validate_builtin("CustomResourceDefinition", two_storage)
    ] == ["must have exactly one version marked as storage version"]
    assert [c["field"] for c in validate_builtin("CustomResourceDefinition", _crd(scope="Galaxy"))] == [
        "spec.scope"
    ]
    no_dot = _crd(group="example")
    no_dot["metadata"]["name"] = "widgets.example"
    assert validate_builtin("CustomResourceDefinition", no_dot)[0]["message"].endswith(
        "should be a domain with at least one dot"
    )
    no_schema = _crd(versions=[{"name": "v1", "served": True, "storage": True}])
    assert validate_builtin("CustomResourceDefinition", no_schema) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: schemas are required",
            "field": "spec.versions[0].schema.openAPIV3Schema",
        }
    ]
    missing = _crd(names={"singular": "widget"})
    assert {c["field"] for c in validate_builtin("CustomResourceDefinition", missing)} == {
        "spec.names.plural",
        "spec.names.kind",
    }


def test_crd_schemas_must_be_structural() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "untyped": {"description": "no type"},
                    "port": {"x-kubernetes-int-or-string": True, "type": "string"},
                    "list": {"type": "array", "items": {}},
                    "both": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}},
                        "additionalProperties": {"type": "string"},
                    },
                    "free": {"x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    crd = _crd(
        versions=[{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]
    )
    base = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties"
    assert validate_builtin("CustomResourceDefinition", crd) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty for specified object fields",
            "field": f"{base}[untyped].type",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "string": must be empty if x-kubernetes-int-or-string is true',
            "field": f"{base}[port].type",
        },
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty for specified array items",
            "field": f"{base}[list].items.type",
        },
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: additionalProperties and properties are mutual exclusive",
            "field": f"{base}[both].additionalProperties",
        },
    ]
    untyped_root = _crd(
        versions=[{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {}}}]
    )
    assert validate_builtin("CustomResourceDefinition", untyped_root) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty at the root",
            "field": "spec.versions[0].schema.openAPIV3Schema.type",
        }
    ]
    array_root = _crd(
        versions=[
            {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "array"}}}
        ]
    )
    assert validate_builtin("CustomResourceDefinition", array_root)[0]["message"] == (
        'Invalid value: "array": must be object at the root'
    )
