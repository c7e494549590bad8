"""Our CRDs, installed as real CustomResourceDefinition objects when the server first starts.

Names, scopes, subresources and printer columns match upstream (training-operator v1.9, Katib
v0.19, KServe v0.20) so kubectl shows what it shows on a real cluster. The schemas are our own and
deliberately small: TFJob/PyTorchJob get a structural schema for the parts controllers and users
rely on (replica specs, run policy), with pod templates kept as given; the Katib kinds are
schemaless upstream too; InferenceService keeps its spec as given. Applying the full upstream CRD
files over these (kubectl apply) replaces them with the upstream schemas.
"""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]

_PRESERVE: Object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_AGE_COLUMN: Object = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _int(fmt: str = "int32", minimum: int | None = None) -> Object:
    schema: Object = {"type": "integer", "format": fmt}
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


_RUN_POLICY: Object = {
    "type": "object",
    "description": "Runtime policies of the job (shared by all training-operator kinds).",
    "properties": {
        "cleanPodPolicy": {"type": "string", "enum": ["All", "Running", "None"]},
        "ttlSecondsAfterFinished": _int(),
        "activeDeadlineSeconds": _int("int64"),
        "backoffLimit": _int(),
        "suspend": {"type": "boolean", "default": False},
        "managedBy": {"type": "string"},
        "schedulingPolicy": {
            "type": "object",
            "properties": {
                "minAvailable": _int(),
                "queue": {"type": "string"},
                "minResources": {
                    "type": "object",
                    "additionalProperties": {"x-kubernetes-int-or-string": True},
                },
                "priorityClass": {"type": "string"},
                "scheduleTimeoutSeconds": _int(),
            },
        },
    },
}

_REPLICA_SPEC: Object = {
    "type": "object",
    "properties": {
        "replicas": _int(minimum=0),
        "restartPolicy": {"type": "string", "enum": ["Always", "OnFailure", "Never", "ExitCode"]},
        "template": {
            "type": "object",
            "description": "The pod template of this replica type (kept as given).",
            "x-kubernetes-preserve-unknown-fields": True,
        },
    },
}

_JOB_STATUS: Object = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "conditions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "string"},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "lastUpdateTime": {"type": "string", "format": "date-time"},
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                },
            },
        },
        "replicaStatuses": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "startTime": {"type": "string", "format": "date-time"},
        "completionTime": {"type": "string", "format": "date-time"},
        "lastReconcileTime": {"type": "string", "format": "date-time"},
    },
}


def _training_schema(replica_field: str, extra: Object) -> Object:
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": [replica_field],
                "properties": {
                    replica_field: {"type": "object", "additionalProperties": _REPLICA_SPEC},
                    "runPolicy": _RUN_POLICY,
                    **extra,
                },
            },
            "status": _JOB_STATUS,
        },
    }


def _crd(
    group: str,
    kind: str,
    plural: str,
    version: str,
    *,
    schema: Object,
    columns: list[Object],
    subresources: Object | None = None,
    short_names: list[str] | None = None,
    categories: list[str] | None = None,
) -> Object:
    names: Object = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    if short_names:
        names["shortNames"] = short_names
    if categories:
        names["categories"] = categories
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": subresources or {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


_STATE_COLUMNS = [
    {"name": "State", "type": "string", "jsonPath": ".status.conditions[-1:].type"},
    _AGE_COLUMN,
]
_KATIB_COLUMNS = [
    {"name": "Type", "type": "string", "jsonPath": ".status.conditions[-1:].type"},
    {"name": "Status", "type": "string", "jsonPath": ".status.conditions[-1:].status"},
]
_KATIB_CATEGORIES = ["all", "kubeflow", "katib"]
_SCHEMALESS: Object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

TFJOBS = _crd(
    "kubeflow.org",
    "TFJob",
    "tfjobs",
    "v1",
    schema=_training_schema(
        "tfReplicaSpecs", {"successPolicy": {"type": "string"}, "enableDynamicWorker": {"type": "boolean"}}
    ),
    columns=_STATE_COLUMNS,
)

PYTORCHJOBS = _crd(
    "kubeflow.org",
    "PyTorchJob",
    "pytorchjobs",
    "v1",
    schema=_training_schema(
        "pytorchReplicaSpecs",
        {
            "nprocPerNode": {"type": "string"},
            "elasticPolicy": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    ),
    columns=_STATE_COLUMNS,
    subresources={
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.pytorchReplicaSpecs.Worker.replicas",
            "statusReplicasPath": ".status.replicaStatuses.Worker.active",
            "labelSelectorPath": ".status.replicaStatuses.Worker.selector",
        },
    },
)

EXPERIMENTS = _crd(
    "kubeflow.org",
    "Experiment",
    "experiments",
    "v1beta1",
    schema=_SCHEMALESS,
    columns=[*_KATIB_COLUMNS, _AGE_COLUMN],
    categories=_KATIB_CATEGORIES,
)

TRIALS = _crd(
    "kubeflow.org",
    "Trial",
    "trials",
    "v1beta1",
    schema=_SCHEMALESS,
    columns=[*_KATIB_COLUMNS, _AGE_COLUMN],
    categories=_KATIB_CATEGORIES,
)

SUGGESTIONS = _crd(
    "kubeflow.org",
    "Suggestion",
    "suggestions",
    "v1beta1",
    schema=_SCHEMALESS,
    columns=[
        *_KATIB_COLUMNS,
        {"name": "Requested", "type": "string", "jsonPath": ".spec.requests"},
        {"name": "Assigned", "type": "string", "jsonPath": ".status.suggestionCount"},
        _AGE_COLUMN,
    ],
    categories=_KATIB_CATEGORIES,
)

_PREDICTOR_TRAFFIC = ".status.components.predictor.traffic"
INFERENCESERVICES = _crd(
    "serving.kserve.io",
    "InferenceService",
    "inferenceservices",
    "v1beta1",
    schema={
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _PRESERVE,
            "status": _PRESERVE,
        },
    },
    columns=[
        {"name": "URL", "type": "string", "jsonPath": ".status.url"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
        {"name": "Prev", "type": "integer", "jsonPath": f"{_PREDICTOR_TRAFFIC}[?(@.tag=='prev')].percent"},
        {
            "name": "Latest",
            "type": "integer",
            "jsonPath": f"{_PREDICTOR_TRAFFIC}[?(@.latestRevision==true)].percent",
        },
        {
            "name": "PrevRolledoutRevision",
            "type": "string",
            "jsonPath": f"{_PREDICTOR_TRAFFIC}[?(@.tag=='prev')].revisionName",
        },
        {
            "name": "LatestReadyRevision",
            "type": "string",
            "jsonPath": f"{_PREDICTOR_TRAFFIC}[?(@.latestRevision==true)].revisionName",
        },
        _AGE_COLUMN,
    ],
    short_names=["isvc"],
)

BUILTIN_CRDS: tuple[Object, ...] = (TFJOBS, PYTORCHJOBS, EXPERIMENTS, TRIALS, SUGGESTIONS, INFERENCESERVICES)
