"""The manifests the end-to-end tests apply, and their validation against the upstream CRDs."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import yaml

from kaptain.cluster.apiserver.schema import StructuralSchema
from tests.conftest import CRDS

Object = dict[str, Any]

EXECUTOR_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
DOCKER_CONFIG_DIR = "/kaniko/.docker"
CRD_FILES = {"PyTorchJob": "kubeflow.org_pytorchjobs.yaml", "TFJob": "kubeflow.org_tfjobs.yaml"}


def python_job(
    name: str, code: str, *, backoff_limit: int = 0, labels: dict[str, str] | None = None
) -> Object:
    """A batch/v1 Job whose single container runs `python -u -c code` on the `python:3.11` base."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "python:3.11", "command": ["python", "-u", "-c", code]}
                    ],
                }
            },
        },
    }


def python_pod(name: str, code: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11", "command": ["python", "-u", "-c", code]}],
        },
    }


def docker_secret(name: str, config_json: str, ca_pem: str) -> Object:
    """The Secret a Kaniko pod mounts at `$DOCKER_CONFIG`: registry credentials and the registry's CA."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "stringData": {"config.json": config_json, "ca.crt": ca_pem},
    }


def kaniko_job(
    name: str, *, context: str, destination: str, registry: str, secret: str, labels: dict[str, str]
) -> Object:
    """A Kaniko build Job as Kaptain's build step writes it (Kaniko's own flags, credentials from a Secret)."""
    args = [
        f"--context={context}",
        "--dockerfile=Dockerfile",
        f"--destination={destination}",
        "--cache=true",
        f"--registry-certificate={registry}={DOCKER_CONFIG_DIR}/ca.crt",
    ]
    args += [f"--label={key}={value}" for key, value in labels.items()]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "kaniko",
                            "image": EXECUTOR_IMAGE,
                            "args": args,
                            "env": [{"name": "DOCKER_CONFIG", "value": DOCKER_CONFIG_DIR}],
                            "volumeMounts": [
                                {"name": "docker-config", "mountPath": DOCKER_CONFIG_DIR, "readOnly": True}
                            ],
                        }
                    ],
                    "volumes": [{"name": "docker-config", "secret": {"secretName": secret}}],
                }
            },
        },
    }


def _replica(replicas: int, container: Object, restart: str) -> Object:
    return {"replicas": replicas, "restartPolicy": restart, "template": {"spec": {"containers": [container]}}}


def pytorchjob(name: str, image: str, *, workers: int = 1, command: list[str] | None = None) -> Object:
    """A PyTorchJob with one Master and `workers` Workers, all running `image` (its ENTRYPOINT by default)."""
    container: Object = {"name": "pytorch", "image": image}
    if command is not None:
        container["command"] = command
    specs = {"Master": _replica(1, container, "OnFailure")}
    if workers:
        specs["Worker"] = _replica(workers, copy.deepcopy(container), "OnFailure")
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name},
        "spec": {"runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 1}, "pytorchReplicaSpecs": specs},
    }


def tfjob(name: str, *, workers: int, command: list[str]) -> Object:
    """A TFJob with `workers` Workers on the `tensorflow/tensorflow` base image running `command`."""
    container = {"name": "tensorflow", "image": "tensorflow/tensorflow:2.15.0", "command": command}
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": name},
        "spec": {"tfReplicaSpecs": {"Worker": _replica(workers, container, "Never")}},
    }


@cache
def _schema(crd_file: str) -> StructuralSchema:
    crd = yaml.safe_load((CRDS / crd_file).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    return StructuralSchema(version["schema"]["openAPIV3Schema"])


def upstream_causes(manifest: Object) -> list[dict[str, str]]:
    """What the upstream CRD of a TFJob/PyTorchJob says is wrong with a manifest ([] when valid).

    A field the CRD does not declare (which a real API server would silently prune) is reported
    as a cause too, so a manifest that only works on the embedded cluster is caught.
    """
    schema = _schema(CRD_FILES[manifest["kind"]])
    causes = list(schema.validate(manifest))
    pruned = schema.prune(copy.deepcopy(manifest))
    if pruned != manifest:
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "message": "undeclared fields would be pruned",
                "field": json.dumps(manifest, sort_keys=True),
            }
        )
    return causes


def to_yaml(*objects: Object) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=False)
