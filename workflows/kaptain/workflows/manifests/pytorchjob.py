"""kubeflow.org/v1 PyTorchJob: one Master plus ``workers - 1`` Workers."""

from __future__ import annotations

from kaptain.workflows.manifests.kubeflow import kubeflow_job_manifest
from kaptain.workflows.manifests.pod import Manifest

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

    Returns:
        The manifest.
    """
    return kubeflow_job_manifest(
        kind="PyTorchJob",
        leader="Master",
        replica_specs_field="pytorchReplicaSpecs",
        name=name,
        labels=labels,
        annotations=annotations,
        template=template,
        workers=workers,
        ttl_seconds_after_finished=ttl_seconds_after_finished,
    )
