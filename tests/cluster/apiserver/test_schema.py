"""Structural schemas: pruning, defaulting and validation against the real upstream CRDs."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kaptain.cluster.apiserver.schema import StructuralSchema
from tests.conftest import CRDS

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_schema(filename: str, version: str) -> StructuralSchema:
    crd = yaml.load(Path(CRDS / filename).read_text(), Loader=_Loader)
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return StructuralSchema(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{filename} has no version {version}")


@pytest.fixture(scope="module")
def pytorchjob() -> StructuralSchema:
    return _load_schema("kubeflow.org_pytorchjobs.yaml", "v1")


@pytest.fixture(scope="module")
def tfjob() -> StructuralSchema:
    return _load_schema("kubeflow.org_tfjobs.yaml", "v1")


@pytest.fixture(scope="module")
def isvc_raw() -> dict[str, Any]:
    crd = yaml.load((CRDS / "serving.kserve.io_inferenceservices.yaml").read_text(), Loader=_Loader)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.fixture(scope="module")
def isvc(isvc_raw: dict[str, Any]) -> StructuralSchema:
    return StructuralSchema(isvc_raw)


def _admit(schema: StructuralSchema, obj: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """What the apiserver does on create: prune, default, validate."""
    stored = schema.apply_defaults(schema.prune(copy.deepcopy(obj)))
    return stored, schema.validate(stored)


def _replica(container: str, image: str, replicas: int) -> dict[str, Any]:
    return {
        "replicas": replicas,
        "restartPolicy": "OnFailure",
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": container,
                        "image": image,
                        "imagePullPolicy": "Always",
                        "command": ["python3", "/opt/pytorch-mnist/mnist.py", "--epochs=1"],
                    }
                ]
            }
        },
    }


# The Kubeflow docs' pytorch-simple example.
PYTORCH_SIMPLE: dict[str, Any] = {
    "apiVersion": "kubeflow.org/v1",
    "kind": "PyTorchJob",
    "metadata": {"name": "pytorch-simple", "namespace": "kubeflow"},
    "spec": {
        "pytorchReplicaSpecs": {
            "Master": _replica("pytorch", "docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727", 1),
            "Worker": _replica("pytorch", "docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727", 1),
        }
    },
}

# The Kubeflow docs' TFJob example (chief, parameter server, workers; container "tensorflow").
TF_SIMPLE: dict[str, Any] = {
    "apiVersion": "kubeflow.org/v1",
    "kind": "TFJob",
    "metadata": {"name": "tfjob-simple", "namespace": "kubeflow"},
    "spec": {
        "runPolicy": {"cleanPodPolicy": "None"},
        "tfReplicaSpecs": {
            "Chief": _replica("tensorflow", "kubeflow/tf-mnist-with-summaries:latest", 1),
            "PS": _replica("tensorflow", "kubeflow/tf-mnist-with-summaries:latest", 1),
            "Worker": _replica("tensorflow", "kubeflow/tf-mnist-with-summaries:latest", 2),
        },
    },
}


def _with_port(job: dict[str, Any], replica: str) -> dict[str, Any]:
    out = copy.deepcopy(job)
    container = out["spec"]["pytorchReplicaSpecs"][replica]["template"]["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 23456, "name": "pytorchjob-port"}]
    return out


# -- the Kubeflow training CRDs ------------------------------------------------------------------


def test_pytorchjob_docs_example_is_valid(pytorchjob: StructuralSchema) -> None:
    stored, causes = _admit(pytorchjob, PYTORCH_SIMPLE)
    assert causes == []
    assert stored["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1
    assert stored["metadata"] == {"name": "pytorch-simple", "namespace": "kubeflow"}


def test_pytorchjob_gets_crd_defaults(pytorchjob: StructuralSchema) -> None:
    job = _with_port(PYTORCH_SIMPLE, "Master")
    job["spec"]["runPolicy"] = {"cleanPodPolicy": "None"}
    stored, causes = _admit(pytorchjob, job)
    assert causes == []
    master = stored["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert master["ports"] == [{"containerPort": 23456, "name": "pytorchjob-port", "protocol": "TCP"}]
    assert stored["spec"]["runPolicy"] == {"cleanPodPolicy": "None", "suspend": False}


def test_defaults_apply_only_inside_objects_that_exist(pytorchjob: StructuralSchema) -> None:
    stored, _ = _admit(pytorchjob, PYTORCH_SIMPLE)
    # runPolicy is absent, so its `suspend: false` default does not create it (as kube-apiserver).
    assert "runPolicy" not in stored["spec"]
    worker = stored["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert "ports" not in worker


def test_defaults_do_not_override_values(pytorchjob: StructuralSchema) -> None:
    job = _with_port(PYTORCH_SIMPLE, "Master")
    port = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["ports"][0]
    port["protocol"] = "UDP"
    job["spec"]["runPolicy"] = {"suspend": True}
    stored, causes = _admit(pytorchjob, job)
    assert causes == []
    assert stored["spec"]["runPolicy"]["suspend"] is True
    master = stored["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert master["ports"][0]["protocol"] == "UDP"


def test_tfjob_docs_example_is_valid_and_defaulted(tfjob: StructuralSchema) -> None:
    stored, causes = _admit(tfjob, TF_SIMPLE)
    assert causes == []
    assert stored["spec"]["runPolicy"] == {"cleanPodPolicy": "None", "suspend": False}
    assert set(stored["spec"]["tfReplicaSpecs"]) == {"Chief", "PS", "Worker"}


def test_wrong_type_is_reported_as_kube_apiserver_does(pytorchjob: StructuralSchema) -> None:
    job = copy.deepcopy(PYTORCH_SIMPLE)
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] = "two"
    _, causes = _admit(pytorchjob, job)
    assert causes == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.pytorchReplicaSpecs.Worker.replicas in body must be of type '
            'integer: "string"',
            "field": "spec.pytorchReplicaSpecs.Worker.replicas",
        }
    ]


def test_missing_required_fields(pytorchjob: StructuralSchema) -> None:
    job = copy.deepcopy(PYTORCH_SIMPLE)
    del job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["name"]
    _, causes = _admit(pytorchjob, job)
    assert causes == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.pytorchReplicaSpecs.Master.template.spec.containers[0].name",
        }
    ]
    _, causes = _admit(pytorchjob, {**PYTORCH_SIMPLE, "spec": {}})
    assert causes == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.pytorchReplicaSpecs"}
    ]


def test_unknown_fields_are_pruned(pytorchjob: StructuralSchema) -> None:
    job = copy.deepcopy(PYTORCH_SIMPLE)
    job["spec"]["unknownField"] = {"x": 1}
    job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["colour"] = "blue"
    job["metadata"]["notObjectMeta"] = "x"
    job["metadata"]["labels"] = {"app": "mnist"}
    job["topLevel"] = True
    stored, causes = _admit(pytorchjob, job)
    assert causes == []
    assert "unknownField" not in stored["spec"]
    assert (
        "colour" not in stored["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    )
    assert stored["metadata"] == {
        "name": "pytorch-simple",
        "namespace": "kubeflow",
        "labels": {"app": "mnist"},
    }
    assert "topLevel" not in stored
    assert stored["apiVersion"] == "kubeflow.org/v1" and stored["kind"] == "PyTorchJob"


def test_prune_and_defaults_work_in_place(pytorchjob: StructuralSchema) -> None:
    job = _with_port(PYTORCH_SIMPLE, "Master")
    job["spec"]["bogus"] = 1
    assert pytorchjob.prune(job) is job
    assert "bogus" not in job["spec"]
    assert pytorchjob.apply_defaults(job) is job
    assert (
        job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["ports"][0][
            "protocol"
        ]
        == "TCP"
    )


def test_list_map_keys_must_be_unique(pytorchjob: StructuralSchema) -> None:
    job = copy.deepcopy(PYTORCH_SIMPLE)
    containers = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"]
    containers.append(copy.deepcopy(containers[0]))
    containers[0]["ports"] = [{"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}]
    _, causes = _admit(pytorchjob, job)
    base = "spec.pytorchReplicaSpecs.Master.template.spec.containers"
    assert {
        "reason": "FieldValueDuplicate",
        "message": 'Duplicate value: {"name":"pytorch"}',
        "field": f"{base}[1]",
    } in causes
    # Both ports are TCP once defaulted, so (containerPort, protocol) repeats.
    assert {
        "reason": "FieldValueDuplicate",
        "message": 'Duplicate value: {"containerPort":80,"protocol":"TCP"}',
        "field": f"{base}[0].ports[1]",
    } in causes
    assert len(causes) == 2


def test_int_or_string_fields(pytorchjob: StructuralSchema) -> None:
    job = copy.deepcopy(PYTORCH_SIMPLE)
    container = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"cpu": 2, "memory": "1Gi"}}
    container["readinessProbe"] = {"httpGet": {"port": "http", "path": "/"}}
    assert _admit(pytorchjob, job)[1] == []
    container["resources"]["limits"]["cpu"] = True
    _, causes = _admit(pytorchjob, job)
    field = "spec.pytorchReplicaSpecs.Master.template.spec.containers[0].resources.limits.cpu"
    assert causes[0] == {
        "reason": "FieldValueTypeInvalid",
        "message": f'Invalid value: "boolean": {field} in body must be of type integer,string: "boolean"',
        "field": field,
    }


def test_validation_of_the_pytorchjob_example_is_fast(pytorchjob: StructuralSchema) -> None:
    job = _with_port(PYTORCH_SIMPLE, "Master")
    job["spec"]["runPolicy"] = {"cleanPodPolicy": "None"}
    stored, _ = _admit(pytorchjob, job)
    runs = 50
    start = time.perf_counter()
    for _ in range(runs):
        assert pytorchjob.validate(stored) == []
    validate_ms = (time.perf_counter() - start) / runs * 1000
    copies = [copy.deepcopy(job) for _ in range(runs)]
    start = time.perf_counter()
    for obj in copies:
        pytorchjob.validate(pytorchjob.apply_defaults(pytorchjob.prune(obj)))
    pipeline_ms = (time.perf_counter() - start) / runs * 1000
    print(f"\nPyTorchJob validate: {validate_ms:.3f} ms, prune+default+validate: {pipeline_ms:.3f} ms")
    assert validate_ms < 20
    assert pipeline_ms < 20


def test_compiling_the_largest_crd_is_cheap(isvc_raw: dict[str, Any]) -> None:
    start = time.perf_counter()
    StructuralSchema(isvc_raw)
    assert time.perf_counter() - start < 0.5


# -- KServe InferenceService ---------------------------------------------------------------------

SKLEARN_ISVC: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "sklearn-iris"},
    "spec": {
        "predictor": {
            "model": {
                "modelFormat": {"name": "sklearn"},
                "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
            }
        }
    },
}


def test_inference_service_example_is_valid(isvc: StructuralSchema) -> None:
    stored, causes = _admit(isvc, SKLEARN_ISVC)
    assert causes == []
    assert stored["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}


def test_inference_service_enum_and_bounds(isvc: StructuralSchema) -> None:
    obj = copy.deepcopy(SKLEARN_ISVC)
    obj["spec"]["predictor"]["scaleMetric"] = "latency"
    obj["spec"]["predictor"]["storageUris"] = []
    del obj["spec"]["predictor"]["model"]["modelFormat"]["name"]
    _, causes = _admit(isvc, obj)
    assert {
        "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "latency": supported values: "cpu", "memory", "concurrency", "rps"',
        "field": "spec.predictor.scaleMetric",
    } in causes
    assert {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 0: spec.predictor.storageUris in body should have at least 1 items",
        "field": "spec.predictor.storageUris",
    } in causes
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.predictor.model.modelFormat.name",
    } in causes
    assert len(causes) == 3


def test_inference_service_status_preserves_unknown_fields(isvc: StructuralSchema) -> None:
    obj = copy.deepcopy(SKLEARN_ISVC)
    obj["status"] = {"url": "http://x", "somethingNew": {"a": 1}}
    stored, causes = _admit(isvc, obj)
    assert causes == []
    assert stored["status"]["somethingNew"] == {"a": 1}


def test_schemaless_katib_crd_keeps_everything() -> None:
    crd = yaml.load((CRDS / "experiment.yaml").read_text(), Loader=_Loader)
    schema = StructuralSchema(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    obj = {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": "e"},
        "spec": {"any": [1, {"x": None}]},
    }
    stored, causes = _admit(schema, obj)
    assert causes == []
    assert stored == obj


# -- keyword by keyword, on small schemas --------------------------------------------------------


def _obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def _causes(schema: dict[str, Any], value: Any) -> list[dict[str, str]]:
    return StructuralSchema(_obj(spec=schema)).validate({"spec": value})


def _messages(schema: dict[str, Any], value: Any) -> list[str]:
    return [c["message"] for c in _causes(schema, value)]


@pytest.mark.parametrize(
    ("schema_type", "value", "got"),
    [
        ("object", "x", "string"),
        ("array", {}, "object"),
        ("string", 1, "integer"),
        ("integer", 1.5, "number"),
        ("number", True, "boolean"),
        ("boolean", "true", "string"),
        ("string", None, "null"),
    ],
)
def test_type_errors(schema_type: str, value: Any, got: str) -> None:
    assert _causes({"type": schema_type}, value) == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": f'Invalid value: "{got}": spec in body must be of type {schema_type}: "{got}"',
            "field": "spec",
        }
    ]


@pytest.mark.parametrize(
    ("schema_type", "value"), [("integer", 3.0), ("number", 3), ("number", 2.5), ("integer", -7)]
)
def test_numeric_types_accept_json_numbers_as_kube_does(schema_type: str, value: float) -> None:
    assert _causes({"type": schema_type}, value) == []


def test_nullable() -> None:
    assert _causes({"type": "string", "nullable": True}, None) == []
    assert _causes({"type": "object", "nullable": True, "properties": {}}, None) == []


def test_enum() -> None:
    assert _causes({"type": "string", "enum": ["a", "b"]}, "a") == []
    assert _causes({"type": "string", "enum": ["a", "b"]}, "c") == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "c": supported values: "a", "b"',
            "field": "spec",
        }
    ]
    assert _messages({"type": "integer", "enum": [1, 2]}, 3) == [
        'Unsupported value: 3: supported values: "1", "2"'
    ]
    assert _causes({"type": "integer", "enum": [1, 2]}, 2.0) == []
    assert _causes({"type": "boolean", "enum": [True]}, 1) != []


def test_number_bounds() -> None:
    schema = {"type": "integer", "minimum": 1, "maximum": 10}
    assert _causes(schema, 1) == [] and _causes(schema, 10) == []
    assert _messages(schema, 0) == ["Invalid value: 0: spec in body should be greater than or equal to 1"]
    assert _messages(schema, 11) == ["Invalid value: 11: spec in body should be less than or equal to 10"]
    exclusive = {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 1.5,
        "exclusiveMaximum": True,
    }
    assert _messages(exclusive, 0) == ["Invalid value: 0: spec in body should be greater than 0"]
    assert _messages(exclusive, 1.5) == ["Invalid value: 1.5: spec in body should be less than 1.5"]
    assert _messages({"type": "integer", "multipleOf": 5}, 12) == [
        "Invalid value: 12: spec in body should be a multiple of 5"
    ]
    assert _causes({"type": "integer", "multipleOf": 5}, 15) == []


def test_string_constraints() -> None:
    assert _causes({"type": "string", "maxLength": 3}, "abcd") == [
        {"reason": "FieldValueTooLong", "message": "Too long: may not be more than 3 bytes", "field": "spec"}
    ]
    assert _messages({"type": "string", "minLength": 2}, "a") == [
        'Invalid value: "a": spec in body should be at least 2 chars long'
    ]
    assert _messages({"type": "string", "pattern": "^[a-z]+$"}, "A1") == [
        "Invalid value: \"A1\": spec in body should match '^[a-z]+$'"
    ]
    # Go's MatchString is a search, not a full match.
    assert _causes({"type": "string", "pattern": "[0-9]"}, "ab1c") == []


def test_formats() -> None:
    assert _causes({"type": "string", "format": "date-time"}, "2024-01-02T03:04:05Z") == []
    assert _causes({"type": "string", "format": "date-time"}, "yesterday") == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "yesterday": spec in body must be of type date-time: "yesterday"',
            "field": "spec",
        }
    ]
    for fmt, good, bad in [
        ("date", "2024-02-03", "2024/02/03"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "nope"),
        ("ipv4", "10.0.0.1", "10.0.0"),
        ("ipv6", "::1", "10.0.0.1"),
        ("cidr", "10.0.0.0/8", "10.0.0.0"),
        ("byte", "aGVsbG8=", "not base64!"),
        ("duration", "1h30m", "an hour"),
        ("hostname", "example.com", "-bad-"),
        ("email", "a@b.c", "a.b.c"),
        ("mac", "00:1a:2b:3c:4d:5e", "00:1a"),
    ]:
        assert _causes({"type": "string", "format": fmt}, good) == [], fmt
        assert len(_causes({"type": "string", "format": fmt}, bad)) == 1, fmt
    # int32/int64/double are not string formats kube-apiserver checks for CRDs.
    assert _causes({"type": "integer", "format": "int32"}, 2**40) == []
    assert _causes({"type": "string", "format": "made-up"}, "anything") == []


def test_array_constraints() -> None:
    assert _messages({"type": "array", "minItems": 2, "items": {"type": "string"}}, ["a"]) == [
        "Invalid value: 1: spec in body should have at least 2 items"
    ]
    assert _causes({"type": "array", "maxItems": 1}, [1, 2, 3]) == [
        {"reason": "FieldValueTooMany", "message": "Too many: 3: must have at most 1 item", "field": "spec"}
    ]
    assert _messages({"type": "array", "uniqueItems": True}, [1, 2, 1]) == [
        'Invalid value: "": spec in body shouldn\'t contain duplicates'
    ]
    assert _causes({"type": "array", "items": {"type": "integer"}}, [1, "x"]) == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec[1] in body must be of type integer: "string"',
            "field": "spec[1]",
        }
    ]


def test_list_type_set() -> None:
    schema = {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
    assert _causes(schema, ["a", "b"]) == []
    assert _causes(schema, ["a", "b", "a"]) == [
        {"reason": "FieldValueDuplicate", "message": 'Duplicate value: "a"', "field": "spec[2]"}
    ]


def test_object_constraints() -> None:
    assert _messages(
        {"type": "object", "minProperties": 2, "additionalProperties": {"type": "string"}}, {"a": "x"}
    ) == ["Invalid value: 1: spec in body should have at least 2 properties"]
    assert _causes(
        {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        {"a": "x", "b": "y"},
    ) == [
        {"reason": "FieldValueTooMany", "message": "Too many: 2: must have at most 1 item", "field": "spec"}
    ]
    assert _causes({"type": "object", "additionalProperties": {"type": "integer"}}, {"a": 1, "b": "x"}) == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.b in body must be of type integer: "string"',
            "field": "spec.b",
        }
    ]
    nested = _obj(replicas={"type": "integer"})
    nested["required"] = ["replicas"]
    assert _causes(nested, {}) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.replicas"}
    ]


def test_composition() -> None:
    any_of = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert _causes(any_of, 1) == [] and _causes(any_of, "1") == []
    assert _messages(any_of, True)[0] == 'Invalid value: "": "spec" must validate at least one schema (anyOf)'
    one_of = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "integer", "maximum": 10}]}
    assert _causes(one_of, 20) == []
    assert (
        _messages(one_of, 5)[0]
        == 'Invalid value: "": "spec" must validate one and only one schema (oneOf). Found 2 valid alternatives'
    )
    all_of = {"allOf": [{"type": "integer", "minimum": 0}, {"type": "integer", "maximum": 10}]}
    assert _causes(all_of, 5) == []
    assert _messages(all_of, 11) == [
        "Invalid value: 11: spec in body should be less than or equal to 10",
        'Invalid value: "": "spec" must validate all the schemas (allOf)',
    ]
    assert _messages({"type": "string", "not": {"enum": ["root"]}}, "root") == [
        'Invalid value: "": "spec" must not validate the schema (not)'
    ]


def test_embedded_resources() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-embedded-resource": True,
        "x-kubernetes-preserve-unknown-fields": True,
    }
    root = StructuralSchema(_obj(template=schema))
    obj = {
        "template": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "x", "junk": 1},
            "spec": {"a": 1},
        }
    }
    assert root.validate(root.prune(copy.deepcopy(obj))) == []
    assert root.prune(copy.deepcopy(obj))["template"]["metadata"] == {"name": "x"}
    assert root.validate({"template": {"metadata": {}}}) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty",
            "field": "template.apiVersion",
        },
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty",
            "field": "template.kind",
        },
    ]
    strict = StructuralSchema(
        _obj(template={"type": "object", "x-kubernetes-embedded-resource": True, "properties": {}})
    )
    pruned = strict.prune({"template": {"apiVersion": "v1", "kind": "Pod", "spec": {}}})
    assert pruned == {"template": {"apiVersion": "v1", "kind": "Pod"}}


def test_pruning_rules() -> None:
    schema = StructuralSchema(
        _obj(
            known=_obj(a={"type": "string"}),
            opaque={"type": "object"},
            free={
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"k": _obj()},
            },
            labels={"type": "object", "additionalProperties": _obj(v={"type": "string"})},
            items={"type": "array", "items": _obj(n={"type": "integer"})},
            nullable={"type": "string", "nullable": True},
            plain={"type": "string"},
        )
    )
    obj = {
        "known": {"a": "x", "b": "y"},
        "opaque": {"anything": 1},
        "free": {"anything": 1, "k": {"drop": 1}},
        "labels": {"x": {"v": "1", "w": "2"}},
        "items": [{"n": 1, "m": 2}],
        "nullable": None,
        "plain": None,
        "extra": 1,
    }
    assert schema.prune(obj) == {
        "known": {"a": "x"},
        "opaque": {},
        "free": {"anything": 1, "k": {}},
        "labels": {"x": {"v": "1"}},
        "items": [{"n": 1}],
        "nullable": None,
    }


def test_defaulting_rules() -> None:
    schema = StructuralSchema(
        _obj(
            spec={
                "type": "object",
                "properties": {
                    "policy": {
                        "type": "object",
                        "default": {},
                        "properties": {"mode": {"type": "string", "default": "auto"}},
                    },
                    "replicas": {"type": "integer", "default": 1},
                    "nullable": {"type": "string", "nullable": True, "default": "d"},
                    "items": {"type": "array", "items": _obj(protocol={"type": "string", "default": "TCP"})},
                    "byName": {
                        "type": "object",
                        "additionalProperties": _obj(weight={"type": "integer", "default": 5}),
                    },
                },
            }
        )
    )
    out = schema.apply_defaults(
        {
            "spec": {
                "replicas": None,
                "nullable": None,
                "items": [{}, {"protocol": "UDP"}],
                "byName": {"a": {}},
            }
        }
    )
    assert out == {
        "spec": {
            # A default object is itself defaulted.
            "policy": {"mode": "auto"},
            "replicas": 1,
            "nullable": None,
            "items": [{"protocol": "TCP"}, {"protocol": "UDP"}],
            "byName": {"a": {"weight": 5}},
        }
    }
    assert schema.apply_defaults({}) == {}
    # Default values are copies, never shared between objects.
    first = schema.apply_defaults({"spec": {}})
    first["spec"]["policy"]["mode"] = "manual"
    assert schema.apply_defaults({"spec": {}})["spec"]["policy"] == {"mode": "auto"}


_junk_key = st.text(alphabet="xyzXYZ_", min_size=1, max_size=6).map(lambda k: f"zz{k}")
_junk_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=5,
)
_PLACES = [
    ("spec",),
    ("spec", "pytorchReplicaSpecs", "Master"),
    ("spec", "pytorchReplicaSpecs", "Worker", "template"),
    ("spec", "pytorchReplicaSpecs", "Master", "template", "spec"),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PLACES), _junk_key, _junk_value), max_size=6))
def test_pruning_removes_any_unknown_field_and_is_idempotent(
    pytorchjob: StructuralSchema, junk: list[tuple[tuple[str, ...], str, Any]]
) -> None:
    clean, _ = _admit(pytorchjob, PYTORCH_SIMPLE)
    dirty = copy.deepcopy(PYTORCH_SIMPLE)
    for place, key, value in junk:
        node = dirty
        for part in place:
            node = node[part]
        node[key] = value
    stored, causes = _admit(pytorchjob, dirty)
    assert causes == []
    assert stored == clean
    assert pytorchjob.apply_defaults(pytorchjob.prune(copy.deepcopy(stored))) == stored
