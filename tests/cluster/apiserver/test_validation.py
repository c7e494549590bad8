"""Built-in kind validation (pods, jobs, secrets, services, ...) with Kubernetes' exact messages."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from kaptain.cluster.apiserver.validation import (
    normalize_secret,
    validate_builtin,
)
from tests.cluster.apiserver.validation_messages import LABEL_MSG

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


def test_unknown_kind_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        validate_builtin("Deployment", {})
