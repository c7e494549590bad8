"""Name rules and object metadata validation with Kubernetes' exact messages."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kaptain.cluster.apiserver.validation import (
    TOTAL_ANNOTATION_SIZE_LIMIT,
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_qualified_name,
    is_valid_label_value,
    is_valid_path_segment_name,
    name_rule_for,
    validate_builtin,
    validate_name,
    validate_object_meta,
)
from tests.cluster.apiserver.validation_messages import DNS1035_MSG, LABEL_MSG, QUALIFIED_MSG, SUBDOMAIN_MSG

# -- names ---------------------------------------------------------------------------------------


def test_dns1123_subdomain() -> None:
    assert is_dns1123_subdomain("example.com") == []
    assert is_dns1123_subdomain("my-pod-1") == []
    assert is_dns1123_subdomain("Bad_Name") == [SUBDOMAIN_MSG]
    assert is_dns1123_subdomain("a" * 253) == []
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert is_dns1123_subdomain("trailing-\n") == [SUBDOMAIN_MSG]
    assert is_dns1123_subdomain("") == [SUBDOMAIN_MSG]


def test_dns1123_label() -> None:
    assert is_dns1123_label("my-name") == []
    assert is_dns1123_label("123-abc") == []
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("-a") == [LABEL_MSG]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_dns1035_label() -> None:
    assert is_dns1035_label("my-name") == []
    assert is_dns1035_label("1abc") == [DNS1035_MSG]


def test_qualified_names() -> None:
    assert is_qualified_name("app") == []
    assert is_qualified_name("app.kubernetes.io/name") == []
    assert is_qualified_name("MyName") == []
    assert is_qualified_name("-bad") == [QUALIFIED_MSG]
    assert is_qualified_name("/x") == ["prefix part must be non-empty"]
    assert is_qualified_name("Example.com/x") == ["prefix part " + SUBDOMAIN_MSG]
    assert is_qualified_name("a/") == ["name part must be non-empty", QUALIFIED_MSG]
    assert is_qualified_name("x" * 64) == ["name part must be no more than 63 characters"]
    assert is_qualified_name("a/b/c")[0].startswith(
        "a qualified name must consist of alphanumeric characters"
    )
    assert is_qualified_name("a/b/c")[0].endswith(
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


def test_label_values() -> None:
    assert is_valid_label_value("") == []
    assert is_valid_label_value("v1.2_x-y") == []
    assert is_valid_label_value("-x") == [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'MyValue' or 'my_value' or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    ]
    assert is_valid_label_value("x" * 64)[0] == "must be no more than 63 characters"


def test_other_name_rules() -> None:
    assert is_config_map_key("config.yaml") == []
    assert is_config_map_key("..data") == ["must not start with '..'"]
    assert is_config_map_key("a b")[0].startswith(
        "a valid config key must consist of alphanumeric characters"
    )
    assert is_env_var_name("MY_VAR") == [] and is_env_var_name("1.weird-but ok") == []
    assert is_env_var_name("A=B") == [
        "a valid environment variable name must consist only of printable ASCII characters other than '='"
    ]
    assert is_valid_path_segment_name("a:b") == []
    assert is_valid_path_segment_name("..") == ["may not be '..'"]
    assert is_valid_path_segment_name("a/b") == ["may not contain '/'"]


def test_generate_name_prefix_may_end_with_a_dash() -> None:
    assert validate_name("web-", "subdomain", prefix=True) == []
    assert validate_name("web-", "subdomain") == [SUBDOMAIN_MSG]
    assert name_rule_for("Namespace") == "label"
    assert name_rule_for("Service") == "dns1035"
    assert name_rule_for("Pod") == "subdomain"
    assert name_rule_for("PyTorchJob") == "subdomain"


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True))
def test_generated_dns_labels_are_valid(name: str) -> None:
    assert is_dns1123_label(name) == []
    assert is_dns1123_subdomain(name) == []


@given(st.text(max_size=70))
def test_label_names_are_subdomains_without_dots(name: str) -> None:
    # Every DNS-1123 label is a subdomain; a subdomain without dots is a label unless it is too long.
    if not is_dns1123_label(name):
        assert is_dns1123_subdomain(name) == []
    if not is_dns1123_subdomain(name) and "." not in name and len(name) <= 63:
        assert is_dns1123_label(name) == []


# -- object metadata -----------------------------------------------------------------------------


def _meta(**meta: Any) -> dict[str, Any]:
    return {"metadata": meta}


def test_name_or_generate_name_is_required() -> None:
    assert validate_object_meta(_meta(namespace="default"), namespaced=True) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: name or generateName is required",
            "field": "metadata.name",
        }
    ]
    assert validate_object_meta(_meta(generateName="web-", namespace="default"), namespaced=True) == []
    assert validate_object_meta({}, namespaced=False)[0]["field"] == "metadata.name"


def test_invalid_names() -> None:
    assert validate_object_meta(_meta(name="Bad_Name", namespace="default"), namespaced=True) == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}',
            "field": "metadata.name",
        }
    ]
    causes = validate_object_meta(_meta(generateName="Web-"), namespaced=False)
    assert [c["field"] for c in causes] == ["metadata.generateName"]
    assert validate_object_meta(_meta(name="a.b"), namespaced=False, name_rule="label")[0]["message"] == (
        'Invalid value: "a.b": must not contain dots'
    )


def test_namespace_scope() -> None:
    assert validate_object_meta(_meta(name="x"), namespaced=True) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "metadata.namespace"}
    ]
    assert validate_object_meta(_meta(name="x", namespace="default"), namespaced=False) == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: not allowed on this type",
            "field": "metadata.namespace",
        }
    ]
    assert (
        validate_object_meta(_meta(name="x", namespace="Bad"), namespaced=True)[0]["field"]
        == "metadata.namespace"
    )


def test_labels_and_annotations() -> None:
    causes = validate_object_meta(
        _meta(
            name="x",
            labels={"-bad": "ok", "good": "-bad-", "n": 1},
            annotations={"Example.COM/Note": "x", "bad key": "y"},
        ),
        namespaced=False,
    )
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 1: must be a string",
            "field": "metadata.labels[n]",
        },
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "-bad": {QUALIFIED_MSG}',
            "field": "metadata.labels",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "-bad-": ' + is_valid_label_value("-bad-")[0],
            "field": "metadata.labels",
        },
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "bad key": {QUALIFIED_MSG}',
            "field": "metadata.annotations",
        },
    ]


def test_annotation_size_limit() -> None:
    big = {"a": "x" * (TOTAL_ANNOTATION_SIZE_LIMIT - 1)}
    assert validate_object_meta(_meta(name="x", annotations=big), namespaced=False) == []
    big["b"] = "y"
    assert validate_object_meta(_meta(name="x", annotations=big), namespaced=False) == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 262144 bytes",
            "field": "metadata.annotations",
        }
    ]


def test_owner_references_and_finalizers() -> None:
    refs = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "batch/v1", "kind": "Job", "name": "b", "uid": "2", "controller": True},
        {"apiVersion": "", "kind": "", "name": "", "uid": ""},
    ]
    causes = validate_object_meta(_meta(name="x", ownerReferences=refs), namespaced=False)
    messages = [(c["field"], c["message"]) for c in causes]
    assert ("metadata.ownerReferences.apiVersion", 'Invalid value: "": version must not be empty') in messages
    assert ("metadata.ownerReferences.uid", 'Invalid value: "": uid must not be empty') in messages
    assert any(
        'Only one reference can have Controller set to true. Found "true" in references for Job/a and Job/b'
        in m
        for _, m in messages
    )
    causes = validate_object_meta(
        _meta(name="x", finalizers=["orphan", "foregroundDeletion", "-x"]), namespaced=False
    )
    assert [c["message"] for c in causes] == [
        f'Invalid value: "-x": {QUALIFIED_MSG}',
        'Invalid value: ["orphan","foregroundDeletion","-x"]: '
        "finalizer orphan and foregroundDeletion cannot be both set",
    ]
    builtin = validate_builtin(
        "ConfigMap", {"metadata": {"name": "c", "namespace": "d", "finalizers": ["custom"]}}
    )
    assert builtin == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
            "field": "metadata.finalizers",
        }
    ]
