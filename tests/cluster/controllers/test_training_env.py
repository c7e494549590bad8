"""Distributed env and replica objects of training jobs, computed without a cluster."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.controllers import training_replicas as tr
from kaptain.cluster.controllers.ports import PortAllocator, port_is_free
from kaptain.cluster.controllers.pytorchjob import PYTORCH, pytorch_env
from kaptain.cluster.controllers.tfjob import TF, is_distributed, tf_config

PYTORCHJOBS = ResourceType(
    "kubeflow.org", "v1", "pytorchjobs", "PyTorchJob", True, subresources=frozenset({"status"})
)


def _job(specs: dict[str, Any], field: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1",
        "metadata": {"name": "train", "namespace": "team", "uid": "u-1"},
        "spec": {field: specs, **spec},
    }


def _replica(replicas: int | None, container: str = "pytorch", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {"spec": {"containers": [{"name": container, "image": "python:3.11"}]}},
        **extra,
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return spec


def test_tf_config_lists_every_replica_on_loopback_with_lower_case_types() -> None:
    job = _job({"chief": _replica(1), "Worker": _replica(2), "PS": _replica(1)}, "tfReplicaSpecs")
    specs = tr.replica_specs(job, TF)
    assert set(specs) == {"Chief", "Worker", "PS"}
    ports = {"chief": [30000], "worker": [30001, 30002], "ps": [30003]}
    config = json.loads(tf_config(specs, "Worker", 1, ports))
    assert config == {
        "cluster": {
            "chief": ["127.0.0.1:30000"],
            "ps": ["127.0.0.1:30003"],
            "worker": ["127.0.0.1:30001", "127.0.0.1:30002"],
        },
        "task": {"type": "worker", "index": 1},
        "environment": "cloud",
    }
    # Compact as Go's json.Marshal writes it.
    assert " " not in tf_config(specs, "Chief", 0, ports)


def test_tf_evaluator_is_not_part_of_the_cluster_and_single_replica_jobs_are_local() -> None:
    job = _job({"Worker": _replica(2), "Evaluator": _replica(1)}, "tfReplicaSpecs")
    specs = tr.replica_specs(job, TF)
    config = json.loads(tf_config(specs, "Evaluator", 0, {"worker": [1, 2], "evaluator": [3]}))
    assert set(config["cluster"]) == {"worker"}
    assert config["task"] == {"type": "evaluator", "index": 0}
    assert is_distributed(specs)
    assert not is_distributed(tr.replica_specs(_job({"Worker": _replica(None)}, "tfReplicaSpecs"), TF))


def test_pytorch_env_with_master_and_workers() -> None:
    job = _job({"Master": _replica(1), "Worker": _replica(2)}, "pytorchReplicaSpecs")
    specs = tr.replica_specs(job, PYTORCH)
    ports = {"master": [31000], "worker": [31001, 31002]}
    env = dict(pytorch_env(job, specs, "Worker", 1, ports))
    assert env == {
        "PYTHONUNBUFFERED": "1",
        "MASTER_PORT": "31000",
        "MASTER_ADDR": "127.0.0.1",
        "PET_MASTER_PORT": "31000",
        "PET_MASTER_ADDR": "127.0.0.1",
        "WORLD_SIZE": "3",
        "RANK": "2",
        "PET_NPROC_PER_NODE": "auto",
        "PET_NODE_RANK": "2",
        "PET_NNODES": "3",
    }
    assert dict(pytorch_env(job, specs, "Master", 0, ports))["RANK"] == "0"


def test_pytorch_world_size_multiplies_a_numeric_nproc_per_node() -> None:
    job = _job({"Master": _replica(1), "Worker": _replica(1)}, "pytorchReplicaSpecs", nprocPerNode="4")
    env = dict(pytorch_env(job, tr.replica_specs(job, PYTORCH), "Master", 0, {"master": [1], "worker": [2]}))
    assert env["WORLD_SIZE"] == "8"
    assert env["PET_NPROC_PER_NODE"] == "4"


def test_pytorch_workers_only_get_no_master_env_and_elastic_gets_a_range() -> None:
    job = _job({"Worker": _replica(2)}, "pytorchReplicaSpecs")
    env = dict(pytorch_env(job, tr.replica_specs(job, PYTORCH), "Worker", 0, {"worker": [1, 2]}))
    assert env == {"PYTHONUNBUFFERED": "1", "PET_NNODES": "2"}
    elastic = _job(
        {"Worker": _replica(2)}, "pytorchReplicaSpecs", elasticPolicy={"minReplicas": 1, "maxReplicas": 3}
    )
    env = dict(pytorch_env(elastic, tr.replica_specs(elastic, PYTORCH), "Worker", 1, {"worker": [41, 42]}))
    assert env["PET_NNODES"] == "1:3"
    assert env["PET_RDZV_ENDPOINT"] == "127.0.0.1:41"
    assert env["PET_RDZV_BACKEND"] == "c10d"


def test_replica_defaults_are_applied_in_memory_only() -> None:
    job = _job({"worker": _replica(None, restartPolicy=None)}, "pytorchReplicaSpecs")
    specs = tr.replica_specs(job, PYTORCH)
    assert specs == {"Worker": {**_replica(1), "restartPolicy": "OnFailure"}}
    assert job["spec"]["pytorchReplicaSpecs"]["worker"].get("replicas") is None


def test_validation_follows_the_webhook() -> None:
    good = _job({"Master": _replica(1), "Worker": _replica(2)}, "pytorchReplicaSpecs")
    assert tr.validation_errors(good, PYTORCH) == []
    no_container = _job({"Master": _replica(1, container="main")}, "pytorchReplicaSpecs")
    (error,) = tr.validation_errors(no_container, PYTORCH)
    assert "must have at least one container with name pytorch" in error
    no_image = _job(
        {"Worker": {"template": {"spec": {"containers": [{"name": "pytorch"}]}}}}, "pytorchReplicaSpecs"
    )
    assert any(".image" in e for e in tr.validation_errors(no_image, PYTORCH))
    assert tr.validation_errors(_job({}, "pytorchReplicaSpecs"), PYTORCH)


def test_replica_pod_and_service() -> None:
    job = _job({"Master": _replica(1, restartPolicy="ExitCode")}, "pytorchReplicaSpecs")
    specs = tr.replica_specs(job, PYTORCH)
    specs["Master"]["template"]["spec"]["restartPolicy"] = "Always"
    pod = tr.new_pod(
        job,
        PYTORCHJOBS,
        PYTORCH,
        rtype="Master",
        index=0,
        spec=specs["Master"],
        master=True,
        port=32000,
        restarts=2,
    )
    assert pod["metadata"]["name"] == "train-master-0"
    assert pod["metadata"]["labels"] == {
        "training.kubeflow.org/operator-name": "pytorchjob-controller",
        "training.kubeflow.org/job-name": "train",
        "training.kubeflow.org/replica-type": "master",
        "training.kubeflow.org/replica-index": "0",
        "training.kubeflow.org/job-role": "master",
    }
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "name": "train",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # ExitCode replicas run as Never pods: the operator decides about restarts.
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["ports"] == [
        {"name": "pytorchjob-port", "containerPort": 32000, "protocol": "TCP"}
    ]
    assert tr.restarts_of(pod) == 2
    service = tr.new_service(job, PYTORCHJOBS, PYTORCH, rtype="Master", index=0, port=32000)
    assert service["metadata"]["name"] == "train-master-0"
    assert service["spec"]["clusterIP"] == "None"
    assert tr.service_port(service, PYTORCH) == 32000


def test_port_allocator_hands_out_distinct_bindable_ports() -> None:
    allocator = PortAllocator(low=21000, high=21100)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        seen = {allocator.allocate() for _ in range(20)}
    assert len(seen) == 20
    assert all(21000 <= p < 21100 and port_is_free(p) for p in seen)


def test_port_allocator_reports_an_exhausted_range() -> None:
    allocator = PortAllocator(low=21200, high=21202)
    allocator.allocate()
    allocator.allocate()
    with pytest.raises(RuntimeError, match="no free TCP port"):
        allocator.allocate()
