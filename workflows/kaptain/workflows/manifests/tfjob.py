"""kubeflow.org/v1 TFJob: one Chief plus ``workers - 1`` Workers."""

from __future__ import annotations

from kaptain.workflows.manifests.pod import Manifest, object_meta

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
    """
    replicas: Manifest = {"Chief": {"replicas": 1, "restartPolicy": "Never", "template": template}}
    if workers > 1:
        replicas["Worker"] = {"replicas": workers - 1, "restartPolicy": "Never", "template": template}
    run_policy: Manifest = {"cleanPodPolicy": "None"}
    if ttl_seconds_after_finished is not None:
        run_policy["ttlSecondsAfterFinished"] = ttl_seconds_after_finished
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": object_meta(name, labels, annotations),
        "spec": {"runPolicy": run_policy, "tfReplicaSpecs": replicas},
    }
