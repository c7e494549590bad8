"""TFJob and PyTorchJob manifests used by the tests; each is checked against the upstream CRD."""

from __future__ import annotations

from typing import Any

from kaptain.cluster.apiserver.interface import Object
from tests.cluster.controllers.helpers import NS, assert_valid_upstream


def replica(
    replicas: int,
    container: str,
    *,
    restart: str | None = None,
    command: list[str] | None = None,
    image: str = "python:3.11",
    sidecar: bool = False,
) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [
        {"name": container, "image": image, "command": command or ["python", "-c", "pass"]}
    ]
    if sidecar:
        containers.append({"name": "sidecar", "image": image, "command": ["python", "-c", "pass"]})
    spec: dict[str, Any] = {"replicas": replicas, "template": {"spec": {"containers": containers}}}
    if restart is not None:
        spec["restartPolicy"] = restart
    return spec


def pytorchjob(
    name: str,
    *,
    master: bool = True,
    workers: int = 1,
    restart: str | None = None,
    run_policy: dict[str, Any] | None = None,
    command: list[str] | None = None,
    container: str = "pytorch",
) -> Object:
    specs: dict[str, Any] = {}
    if master:
        specs["Master"] = replica(1, container, restart=restart, command=command)
    if workers:
        specs["Worker"] = replica(workers, container, restart=restart, command=command)
    job: Object = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"pytorchReplicaSpecs": specs},
    }
    if run_policy:
        job["spec"]["runPolicy"] = run_policy
    assert_valid_upstream(job)
    return job


def tfjob(
    name: str,
    specs: dict[str, dict[str, Any]],
    *,
    run_policy: dict[str, Any] | None = None,
    success_policy: str | None = None,
) -> Object:
    job: Object = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"tfReplicaSpecs": specs},
    }
    if run_policy:
        job["spec"]["runPolicy"] = run_policy
    if success_policy is not None:
        job["spec"]["successPolicy"] = success_policy
    assert_valid_upstream(job)
    return job
