"""Name, metadata and built-in kind validation with Kubernetes' exact messages."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
import yaml
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
    normalize_secret,
    validate_builtin,
    validate_name,
    validate_object_meta,
)
from tests.conftest import CRDS

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name' or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name' or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName' or 'my.name' or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)

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


# -- pods ----------------------------------------------------------------------------------------

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "python:3.11",
                "command": ["python", "-c", "print(1)"],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ],
                "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                "resources": {
                    "requests": {"cpu": "500m", "memory": "128Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "restartPolicy": "Never",
    },
}


def _pod(**spec: Any) -> dict[str, Any]:
    pod = copy.deepcopy(POD)
    pod["spec"].update(spec)
    return pod


def _container(**fields: Any) -> dict[str, Any]:
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"][0].update(fields)
    return pod


def test_valid_pod() -> None:
    assert validate_builtin("Pod", POD) == []
    minimal = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert validate_builtin("Pod", minimal) == []


def test_pod_needs_a_container() -> None:
    assert validate_builtin("Pod", _pod(containers=[])) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]


def test_container_names() -> None:
    pod = _pod(
        containers=[
            {"name": "Main", "image": "x"},
            {"name": "b", "image": "x"},
            {"name": "b", "image": "x"},
            {"image": "x"},
        ],
        initContainers=[{"name": "init", "image": "x"}],
    )
    assert validate_builtin("Pod", pod) == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "Main": {LABEL_MSG}',
            "field": "spec.containers[0].name",
        },
        {
            "reason": "FieldValueDuplicate",
            "message": 'Duplicate value: "b"',
            "field": "spec.containers[2].name",
        },
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[3].name"},
    ]
    dup_init = _pod(initContainers=[{"name": "main", "image": "x"}])
    assert validate_builtin("Pod", dup_init) == [
        {
            "reason": "FieldValueDuplicate",
            "message": 'Duplicate value: "main"',
            "field": "spec.containers[0].name",
        }
    ]


def test_image_is_required() -> None:
    pod = _container(image="")
    assert validate_builtin("Pod", pod) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}
    ]


def test_restart_policy() -> None:
    assert validate_builtin("Pod", _pod(restartPolicy="Sometimes")) == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
            "field": "spec.restartPolicy",
        }
    ]
    no_policy = copy.deepcopy(POD)
    del no_policy["spec"]["restartPolicy"]
    assert validate_builtin("Pod", no_policy) == []


def test_env_and_ports() -> None:
    pod = _container(
        env=[
            {"name": ""},
            {"name": "A=B"},
            {"name": "C", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        ports=[{"containerPort": 0}, {"containerPort": 80, "protocol": "HTTP", "name": "Bad_Name"}],
    )
    fields = {(c["field"], c["message"].split(":")[0]) for c in validate_builtin("Pod", pod)}
    assert fields == {
        ("spec.containers[0].env[0].name", "Required value"),
        ("spec.containers[0].env[1].name", "Invalid value"),
        ("spec.containers[0].env[2].valueFrom", "Invalid value"),
        ("spec.containers[0].ports[0].containerPort", "Invalid value"),
        ("spec.containers[0].ports[1].protocol", "Unsupported value"),
        ("spec.containers[0].ports[1].name", "Invalid value"),
    }
    port_cause = next(
        c for c in validate_builtin("Pod", pod) if c["field"].endswith("ports[0].containerPort")
    )
    assert port_cause["message"] == "Invalid value: 0: must be between 1 and 65535, inclusive"


def test_resource_quantities() -> None:
    pod = _container(
        resources={"limits": {"cpu": "1", "memory": "lots"}, "requests": {"cpu": "2", "bogus": "1"}}
    )
    causes = validate_builtin("Pod", pod)
    assert {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "lots": quantities must match the regular expression '
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        "field": "spec.containers[0].resources.limits[memory]",
    } in causes
    assert {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "2": must be less than or equal to cpu limit of 1',
        "field": "spec.containers[0].resources.requests[cpu]",
    } in causes
    assert {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "bogus": must be a standard resource for containers',
        "field": "spec.containers[0].resources.requests[bogus]",
    } in causes
    assert len(causes) == 3
    gpu = _container(resources={"limits": {"nvidia.com/gpu": 1, "cpu": 0.5}})
    assert validate_builtin("Pod", gpu) == []
    negative = _container(resources={"requests": {"cpu": "-1"}})
    assert (
        validate_builtin("Pod", negative)[0]["message"]
        == 'Invalid value: "-1": must be greater than or equal to 0'
    )


def test_volumes_and_mounts() -> None:
    pod = _pod(volumes=[{"name": "data", "emptyDir": {}, "hostPath": {"path": "/"}}, {"name": "data2"}])
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "missing", "mountPath": "/m"})
    assert validate_builtin("Pod", pod) == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: may not specify more than 1 volume type",
            "field": "spec.volumes[0].hostPath",
        },
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must specify a volume type",
            "field": "spec.volumes[1]",
        },
        {
            "reason": "FieldValueNotFound",
            "message": 'Not found: "missing"',
            "field": "spec.containers[0].volumeMounts[1].name",
        },
    ]


def test_pod_numbers() -> None:
    assert validate_builtin("Pod", _pod(activeDeadlineSeconds=0))[0]["message"] == (
        "Invalid value: 0: must be between 1 and 2147483647, inclusive"
    )
    assert validate_builtin("Pod", _pod(terminationGracePeriodSeconds=-1))[0]["message"] == (
        "Invalid value: -1: must be greater than or equal to 0"
    )


def test_wrong_json_types_are_causes_not_crashes() -> None:
    pod = _pod(containers=[{"name": 3, "image": ["x"], "env": "A=1", "resources": {"limits": "lots"}}])
    causes = validate_builtin("Pod", pod)
    assert causes and all(c["reason"] in {"FieldValueInvalid", "FieldValueRequired"} for c in causes)
    assert validate_builtin("Pod", {"metadata": {"name": "p", "namespace": "d"}, "spec": "nope"})


# -- jobs ----------------------------------------------------------------------------------------

UID = "0b2f8f5e-6c1e-4d1e-9a55-1f8e2f1b9c3a"


def _job(**spec: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "uid": UID},
        "spec": {
            "backoffLimit": 4,
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}},
        },
    }
    job["spec"].update(spec)
    return job


def _generated(job: dict[str, Any]) -> dict[str, Any]:
    """The selector and labels kube-apiserver's job strategy generates before validation."""
    out = copy.deepcopy(job)
    labels = out["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {})
    for key, value in (
        ("batch.kubernetes.io/controller-uid", UID),
        ("controller-uid", UID),
        ("batch.kubernetes.io/job-name", "pi"),
        ("job-name", "pi"),
    ):
        labels.setdefault(key, value)
    out["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    return out


def test_valid_jobs() -> None:
    assert validate_builtin("Job", _job()) == []
    assert validate_builtin("Job", _generated(_job())) == []
    manual = _job(manualSelector=True, selector={"matchLabels": {"app": "x"}})
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    assert validate_builtin("Job", manual) == []


def test_job_template_restart_policy() -> None:
    job = _job()
    del job["spec"]["template"]["spec"]["restartPolicy"]
    assert validate_builtin("Job", job) == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Always": supported values: "OnFailure", "Never"',
            "field": "spec.template.spec.restartPolicy",
        }
    ]


def test_job_template_is_required() -> None:
    job = _job()
    del job["spec"]["template"]
    assert validate_builtin("Job", job) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.template"}
    ]


def test_job_counts_are_non_negative() -> None:
    causes = validate_builtin(
        "Job", _job(parallelism=-1, completions=-2, backoffLimit=-3, activeDeadlineSeconds=0)
    )
    assert [(c["field"], c["message"]) for c in causes] == [
        ("spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.completions", "Invalid value: -2: must be greater than or equal to 0"),
        ("spec.backoffLimit", "Invalid value: -3: must be greater than or equal to 0"),
        ("spec.activeDeadlineSeconds", "Invalid value: 0: must be greater than zero"),
    ]


def test_job_selector_must_match_template_labels() -> None:
    job = _generated(_job())
    job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] = "other"
    causes = validate_builtin("Job", job)
    fields = [c["field"] for c in causes]
    assert "spec.template.metadata.labels" in fields
    assert "spec.template.metadata.labels[batch.kubernetes.io/controller-uid]" in fields
    mismatch = next(c for c in causes if c["field"] == "spec.template.metadata.labels")
    assert mismatch["message"].endswith("`selector` does not match template `labels`")


def test_job_selector_must_be_generated_unless_manual() -> None:
    job = _generated(_job())
    job["spec"]["selector"] = {"matchLabels": {"job-name": "pi"}}
    causes = validate_builtin("Job", job)
    assert [c["message"].split(": ")[-1] for c in causes] == ["`selector` not auto-generated"]
    manual = _job(manualSelector=True)
    assert validate_builtin("Job", manual) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}
    ]


def test_indexed_jobs_need_completions() -> None:
    assert validate_builtin("Job", _job(completionMode="Indexed")) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: when completion mode is Indexed",
            "field": "spec.completions",
        }
    ]
    assert validate_builtin("Job", _job(completionMode="Sideways"))[0]["reason"] == "FieldValueNotSupported"


# -- secrets and config maps ---------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_normalize_secret_folds_string_data() -> None:
    secret = {
        "metadata": {"name": "s"},
        "data": {"a": _b64("old"), "b": _b64("keep")},
        "stringData": {"a": "new", "c": "x"},
    }
    out = normalize_secret(secret)
    assert out == {
        "metadata": {"name": "s"},
        "data": {"a": _b64("new"), "b": _b64("keep"), "c": _b64("x")},
        "type": "Opaque",
    }
    assert "stringData" in secret
    assert normalize_secret({"type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"


def test_secret_validation() -> None:
    ok = {"metadata": {"name": "s", "namespace": "d"}, "stringData": {"password": "hunter2"}}
    assert validate_builtin("Secret", ok) == []
    bad = {"metadata": {"name": "s", "namespace": "d"}, "data": {"bad key": _b64("x"), "raw": "not base64!"}}
    causes = validate_builtin("Secret", bad)
    assert [c["field"] for c in causes] == ["data[bad key]", "data[raw]"]
    assert causes[1]["message"].startswith('Invalid value: "<secret contents redacted>": illegal base64 data')
    tls = {
        "metadata": {"name": "s", "namespace": "d"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": _b64("c")},
    }
    assert validate_builtin("Secret", tls) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "data[tls.key]"}
    ]
    huge = {"metadata": {"name": "s", "namespace": "d"}, "stringData": {"a": "x" * (1024 * 1024 + 1)}}
    assert validate_builtin("Secret", huge) == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 1048576 bytes",
            "field": "data",
        }
    ]
    docker = {
        "metadata": {"name": "s", "namespace": "d"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": _b64("{")},
    }
    assert validate_builtin("Secret", docker)[0]["field"] == "data[.dockerconfigjson]"


def test_config_map_validation() -> None:
    cm = {
        "metadata": {"name": "c", "namespace": "d"},
        "data": {"app.yaml": "x: 1"},
        "binaryData": {"blob": _b64("\x00")},
    }
    assert validate_builtin("ConfigMap", cm) == []
    bad = {
        "metadata": {"name": "c", "namespace": "d"},
        "data": {"..x": "1", "k": 2},
        "binaryData": {"k": _b64("y")},
    }
    assert [(c["field"], c["reason"]) for c in validate_builtin("ConfigMap", bad)] == [
        ("data[..x]", "FieldValueInvalid"),
        ("data[k]", "FieldValueInvalid"),
        ("binaryData[k]", "FieldValueInvalid"),
    ]


# -- services, namespaces, service accounts, events ----------------------------------------------


def test_service_validation() -> None:
    svc: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "d"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    assert validate_builtin("Service", svc) == []
    bad = copy.deepcopy(svc)
    bad["metadata"]["name"] = "1web"
    bad["spec"]["ports"] = [{"port": 80}, {"port": 70000, "name": "b", "protocol": "ICMP"}]
    bad["spec"]["type"] = "Magic"
    assert [(c["field"], c["reason"]) for c in validate_builtin("Service", bad)] == [
        ("metadata.name", "FieldValueInvalid"),
        ("spec.type", "FieldValueNotSupported"),
        ("spec.ports[0].name", "FieldValueRequired"),
        ("spec.ports[1].port", "FieldValueInvalid"),
        ("spec.ports[1].protocol", "FieldValueNotSupported"),
    ]
    no_ports = {"metadata": {"name": "web", "namespace": "d"}, "spec": {}}
    assert validate_builtin("Service", no_ports) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.ports"}
    ]
    headless = {"metadata": {"name": "web", "namespace": "d"}, "spec": {"clusterIP": "None"}}
    assert validate_builtin("Service", headless) == []


def test_namespace_validation() -> None:
    assert validate_builtin("Namespace", {"metadata": {"name": "team-a"}}) == []
    assert validate_builtin("Namespace", {"metadata": {"name": "team.a"}}) == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "team.a": must not contain dots',
            "field": "metadata.name",
        }
    ]
    assert (
        validate_builtin("Namespace", {"metadata": {"name": "a", "namespace": "b"}})[0]["reason"]
        == "FieldValueForbidden"
    )


def test_service_account_and_event_validation() -> None:
    assert (
        validate_builtin(
            "ServiceAccount", {"metadata": {"name": "default", "namespace": "d"}, "secrets": [{"name": "t"}]}
        )
        == []
    )
    assert validate_builtin(
        "ServiceAccount",
        {"metadata": {"name": "sa", "namespace": "d"}, "automountServiceAccountToken": "yes"},
    )
    event: dict[str, Any] = {
        "metadata": {"name": "web.1", "namespace": "d"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "d"},
        "reason": "Started",
        "type": "Normal",
        "count": 1,
    }
    assert validate_builtin("Event", event) == []
    moved = copy.deepcopy(event)
    moved["involvedObject"]["namespace"] = "other"
    assert validate_builtin("Event", moved) == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "other": does not match event.namespace',
            "field": "involvedObject.namespace",
        }
    ]


# -- custom resource definitions -----------------------------------------------------------------


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


def test_unknown_kind_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        validate_builtin("Deployment", {})
