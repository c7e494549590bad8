"""batch/v1 Job: the builder (Kaniko) and training for frameworks without a Kubeflow operator."""

from __future__ import annotations

from kaptain.workflows.manifests.pod import Manifest, object_meta

__all__ = ["job_manifest"]


def job_manifest(
    *,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    template: Manifest,
    ttl_seconds_after_finished: int | None = None,
) -> Manifest:
    """A single-pod Job that is not retried: a failed pod fails the Job.

    A failure of user code (or of a build) is not fixed by running it again; the run reports it
    and the user decides. Retrying transient cluster errors is Temporal's job, not the Job's.

    Args:
        name: The Job's name.
        labels: The run's labels (also on the pod template).
        annotations: The run's annotations.
        template: The pod template (its restartPolicy is forced to ``Never``).
        ttl_seconds_after_finished: Let the cluster delete the finished Job after this long.
    """
    pod = {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}
    spec: Manifest = {"backoffLimit": 0, "completions": 1, "parallelism": 1, "template": pod}
    if ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = ttl_seconds_after_finished
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(name, labels, annotations),
        "spec": spec,
    }
