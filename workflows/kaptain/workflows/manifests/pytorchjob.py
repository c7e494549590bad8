"""kubeflow.org/v1 PyTorchJob: one Master plus ``workers - 1`` Workers."""

from __future__ import annotations

from kaptain.workflows.manifests.pod import Manifest, object_meta

__all__ = ["CONTAINER_NAME", "pytorchjob_manifest"]

CONTAINER_NAME = "pytorch"
"""The operator requires a container of this name in every replica."""


def pytorchjob_manifest(
    *,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    template: Manifest,
    workers: int,
    ttl_seconds_after_finished: int | None = None,
) -> Manifest:
    """A PyTorchJob whose Master is rank 0 of ``workers`` processes.

    The operator sets ``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE`` and ``RANK`` in each pod.
    Replicas use ``restartPolicy: Never``, so a failing process fails the job at once (the
    operator's rule for Never) instead of being restarted until a backoff limit.

    Args:
        name: The job's name.
        labels: The run's labels (also on the pod templates).
        annotations: The run's annotations.
        template: The pod template shared by all replicas (container named ``pytorch``).
        workers: Total number of processes (at least 1).
        ttl_seconds_after_finished: Let the operator delete the finished job after this long.
    """
    replicas: Manifest = {"Master": {"replicas": 1, "restartPolicy": "Never", "template": template}}
    if workers > 1:
        replicas["Worker"] = {"replicas": workers - 1, "restartPolicy": "Never", "template": template}
    run_policy: Manifest = {"cleanPodPolicy": "None"}
    if ttl_seconds_after_finished is not None:
        run_policy["ttlSecondsAfterFinished"] = ttl_seconds_after_finished
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": object_meta(name, labels, annotations),
        "spec": {"runPolicy": run_policy, "pytorchReplicaSpecs": replicas},
    }
