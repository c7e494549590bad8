"""What kubeflow.org/v1 training jobs share: a leader replica plus ``workers - 1`` Workers.

TFJob and PyTorchJob differ only in their kind, the leader's replica type and the name of the
replica-spec map; `tfjob` and `pytorchjob` keep one builder per kind and call this one.
"""

from __future__ import annotations

from kaptain.workflows.manifests.pod import Manifest, object_meta

__all__ = ["kubeflow_job_manifest"]


def kubeflow_job_manifest(
    *,
    kind: str,
    leader: str,
    replica_specs_field: str,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    template: Manifest,
    workers: int,
    ttl_seconds_after_finished: int | None,
) -> Manifest:
    """A kubeflow.org/v1 job with one ``leader`` replica and ``workers - 1`` Workers.

    Every replica uses ``restartPolicy: Never``, so a failing process fails the job at once
    instead of being restarted until a backoff limit.

    Args:
        kind: ``TFJob`` or ``PyTorchJob``.
        leader: The replica type that decides success (``Chief``, ``Master``).
        replica_specs_field: The spec field holding the replicas (``tfReplicaSpecs``, ...).
        name: The job's name.
        labels: The run's labels.
        annotations: The run's annotations.
        template: The pod template shared by all replicas.
        workers: Total number of processes (at least 1).
        ttl_seconds_after_finished: Let the operator delete the finished job after this long.

    Returns:
        The manifest.
    """
    replicas: Manifest = {leader: {"replicas": 1, "restartPolicy": "Never", "template": template}}
    if workers > 1:
        replicas["Worker"] = {"replicas": workers - 1, "restartPolicy": "Never", "template": template}
    run_policy: Manifest = {"cleanPodPolicy": "None"}
    if ttl_seconds_after_finished is not None:
        run_policy["ttlSecondsAfterFinished"] = ttl_seconds_after_finished
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": kind,
        "metadata": object_meta(name, labels, annotations),
        "spec": {"runPolicy": run_policy, replica_specs_field: replicas},
    }
