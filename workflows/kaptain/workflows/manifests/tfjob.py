"""kubeflow.org/v1 TFJob: one Chief plus ``workers - 1`` Workers."""

from __future__ import annotations

from kaptain.workflows.manifests.kubeflow import kubeflow_job_manifest
from kaptain.workflows.manifests.pod import Manifest

__all__ = ["CONTAINER_NAME", "tfjob_manifest"]

CONTAINER_NAME = "tensorflow"
"""The operator requires a container of this name in every replica."""


def tfjob_manifest(
    *,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    template: Manifest,
    workers: int,
    ttl_seconds_after_finished: int | None = None,
) -> Manifest:
    """A TFJob whose Chief decides success (the original SDK's "Master Node").

    The operator sets ``TF_CONFIG`` in each pod. Replicas use ``restartPolicy: Never`` (also the
    operator's default for TF), so a failing process fails the job.

    Args:
        name: The job's name.
        labels: The run's labels (also on the pod templates).
        annotations: The run's annotations.
        template: The pod template shared by all replicas (container named ``tensorflow``).
        workers: Total number of processes (at least 1).
        ttl_seconds_after_finished: Let the operator delete the finished job after this long.

    Returns:
        The manifest.
    """
    return kubeflow_job_manifest(
        kind="TFJob",
        leader="Chief",
        replica_specs_field="tfReplicaSpecs",
        name=name,
        labels=labels,
        annotations=annotations,
        template=template,
        workers=workers,
        ttl_seconds_after_finished=ttl_seconds_after_finished,
    )
