"""The training workload of a run: TFJob, PyTorchJob or batch/v1 Job, by framework."""

from __future__ import annotations

from kaptain.workflows.manifests.job import job_manifest
from kaptain.workflows.manifests.pod import Manifest, container, pod_template
from kaptain.workflows.manifests.pytorchjob import CONTAINER_NAME as PYTORCH_CONTAINER
from kaptain.workflows.manifests.pytorchjob import pytorchjob_manifest
from kaptain.workflows.manifests.tfjob import CONTAINER_NAME as TF_CONTAINER
from kaptain.workflows.manifests.tfjob import tfjob_manifest
from kaptain.workflows.names import run_annotations, run_labels, train_secret_names, workload_name
from kaptain.workflows.specs import TrainInput, flag_args, workload_kind
from kaptain.workflows.storage import trained_uri

__all__ = ["LIFECYCLE_PHASE", "training_manifest"]

LIFECYCLE_PHASE = "training"
"""``MODEL_LIFECYCLE_PHASE`` of training pods."""


def training_manifest(inp: TrainInput, image: str) -> Manifest:
    """The training workload, named ``<name fragment>-<kind>-<revision[:8]>``.

    Each process gets the hyperparameters then the args as ``--flag=value`` arguments, the env
    contract (``TRAINED_MODEL_UPLOAD_PATH``, ``MODEL_LIFECYCLE_PHASE``, ``GPUS``), the storage
    variables from Secret ``train-<hex>`` (when the storage has credentials), and pulls its image
    with Secret ``train-registry-<hex>``.

    Args:
        inp: The run's input.
        image: The image to run (the build's result).
    """
    kind = workload_kind(inp.framework)
    name = workload_name(inp.model.name_fragment, kind.lower(), inp.revision)
    labels = run_labels(id_label=inp.model.id_label, revision=inp.revision, action="train")
    annotations = run_annotations(inp.model.id)
    storage_secret, registry_secret = train_secret_names(inp.revision)
    container_name = {"TFJob": TF_CONTAINER, "PyTorchJob": PYTORCH_CONTAINER}.get(kind, inp.framework)
    trainer = container(
        name=container_name,
        image=image,
        args=flag_args(inp.hyperparameters, inp.args),
        env={
            "TRAINED_MODEL_UPLOAD_PATH": trained_uri(inp.storage.base_uri, inp.model.id, inp.revision),
            "MODEL_LIFECYCLE_PHASE": LIFECYCLE_PHASE,
            "GPUS": str(inp.gpus),
        },
        env_from_secrets=[storage_secret] if inp.storage.credentials is not None else None,
        resource_spec=inp.resources,
    )
    template = pod_template(
        labels=labels,
        annotations=annotations,
        containers=[trainer],
        image_pull_secrets=[registry_secret],
    )
    ttl = inp.ttl_seconds_after_finished
    if kind == "TFJob":
        return tfjob_manifest(
            name=name,
            labels=labels,
            annotations=annotations,
            template=template,
            workers=inp.workers,
            ttl_seconds_after_finished=ttl,
        )
    if kind == "PyTorchJob":
        return pytorchjob_manifest(
            name=name,
            labels=labels,
            annotations=annotations,
            template=template,
            workers=inp.workers,
            ttl_seconds_after_finished=ttl,
        )
    return job_manifest(
        name=name, labels=labels, annotations=annotations, template=template, ttl_seconds_after_finished=ttl
    )
