"""Replica specs, pods and services of Kubeflow training jobs (TFJob, PyTorchJob), as operator v1.9.

Covers the controller's in-memory defaults (never written back to the spec), the admission rules
the real server enforces with its validating webhook, and the objects made per replica: a pod
`<job>-<type>-<index>` and a headless Service of the same name, both owned by the job and labelled
with `training.kubeflow.org/{job-name,operator-name,replica-type,replica-index}` (plus
`job-role: master` on the master pod).

On loopback every replica listens on its own port (see `ports`): the replica's Service records
it in its port named after the framework (`tfjob-port`, `pytorchjob-port`) and the pod's
framework container declares it, so the pod env can be built from the Services.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.controllers.objects import controller_ref

GROUP = "training.kubeflow.org"
OPERATOR_NAME = f"{GROUP}/operator-name"
JOB_NAME = f"{GROUP}/job-name"
REPLICA_TYPE = f"{GROUP}/replica-type"
REPLICA_INDEX = f"{GROUP}/replica-index"
JOB_ROLE = f"{GROUP}/job-role"
# Pod recreations of a replica, kept on its Service (which outlives the pods) and copied onto each
# new pod, so backoffLimit also counts restarts that replaced the pod rather than the container.
RESTARTS = "kaptain.io/replica-restarts"
RESTART_POLICIES = ("Always", "OnFailure", "Never", "ExitCode")
MANAGED_BY_US = "kubeflow.org/training-operator"
MANAGED_BY_VALUES = (MANAGED_BY_US, "kueue.x-k8s.io/multikueue")


@dataclass(frozen=True)
class Framework:
    """What differs between the training job kinds.

    Attributes:
        kind: `TFJob` or `PyTorchJob` (also the reason prefix).
        plural: The resource plural.
        specs_field: The replica-spec map in `spec`.
        controller_name: The `operator-name` label value.
        container: The framework container's required name.
        port_name: The framework port's name.
        default_port: The framework's default port (kept for reference; loopback ports differ).
        restart_policy: The default replica restart policy.
        replica_types: The replica types in the order status is computed.
    """

    kind: str
    plural: str
    specs_field: str
    controller_name: str
    container: str
    port_name: str
    default_port: int
    restart_policy: str
    replica_types: tuple[str, ...]


def replica_specs(job: Object, fw: Framework) -> dict[str, dict[str, Any]]:
    """The job's replica specs with the controller defaults applied in memory.

    Keys are normalised to the canonical case (`worker` -> `Worker`), `replicas` defaults to 1
    and `restartPolicy` to the framework default.

    Args:
        job: The job.
        fw: Its framework.

    Returns:
        Replica type -> spec copy.
    """
    raw = (job.get("spec") or {}).get(fw.specs_field) or {}
    canonical = {t.lower(): t for t in fw.replica_types}
    out: dict[str, dict[str, Any]] = {}
    for key, given in raw.items():
        rtype = canonical.get(str(key).lower(), str(key))
        spec = copy.deepcopy(given or {})
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        if not spec.get("restartPolicy"):
            spec["restartPolicy"] = fw.restart_policy
        out[rtype] = spec
    return out


def validation_errors(job: Object, fw: Framework) -> list[str]:
    """The rules of the operator's validating webhook shared by all kinds.

    Args:
        job: The job.
        fw: Its framework.

    Returns:
        Error messages (empty when valid).
    """
    spec = job.get("spec") or {}
    raw = spec.get(fw.specs_field)
    field = f"spec.{fw.specs_field}"
    if not raw:
        return [f"{field}: Required value: must be specified"]
    errors: list[str] = []
    for rtype, rspec in raw.items():
        containers = (((rspec or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        path = f"{field}[{rtype}].template.spec.containers"
        if not containers:
            errors.append(f"{path}: Required value: must be specified")
            continue
        for i, container in enumerate(containers):
            if not container.get("image"):
                errors.append(f"{path}[{i}].image: Required value: must be required")
        if not any(c.get("name") == fw.container for c in containers):
            errors.append(
                f"{path}: Required value: must have at least one container with name {fw.container}"
            )
        policy = (rspec or {}).get("restartPolicy")
        if policy and policy not in RESTART_POLICIES:
            errors.append(f"{field}[{rtype}].restartPolicy: Unsupported value: {policy!r}")
    managed_by = (spec.get("runPolicy") or {}).get("managedBy")
    if managed_by and managed_by not in MANAGED_BY_VALUES:
        errors.append(f"spec.runPolicy.managedBy: Unsupported value: {managed_by!r}")
    return errors


def job_labels(fw: Framework, job_name: str) -> dict[str, str]:
    """`GenLabels`: the labels every pod and service of the job carries."""
    return {OPERATOR_NAME: fw.controller_name, JOB_NAME: job_name.replace("/", "-")}


def replica_labels(fw: Framework, job_name: str, rtype: str, index: int) -> dict[str, str]:
    """Labels of one replica's pod and service."""
    return {**job_labels(fw, job_name), REPLICA_TYPE: rtype.lower(), REPLICA_INDEX: str(index)}


def replica_name(job_name: str, rtype: str, index: int) -> str:
    """`GenGeneralName`: `<job>-<replica type lower>-<index>`."""
    return f"{job_name}-{rtype.lower()}-{index}".replace("/", "-")


def replica_index(obj: Object) -> int | None:
    """The replica-index label as a number, or None."""
    raw = ((obj.get("metadata") or {}).get("labels") or {}).get(REPLICA_INDEX)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def replica_type_of(obj: Object) -> str:
    """The (lower-case) replica-type label."""
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(REPLICA_TYPE) or "")


def restarts_of(obj: Object) -> int:
    """The pod-recreation count recorded on a replica's Service or pod."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(RESTARTS)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def service_port(service: Object, fw: Framework) -> int | None:
    """The replica's loopback port recorded on its Service."""
    for port in (service.get("spec") or {}).get("ports") or []:
        if port.get("name") == fw.port_name:
            return int(port["port"])
    return None


def new_service(job: Object, rt: ResourceType, fw: Framework, *, rtype: str, index: int, port: int) -> Object:
    """The headless Service of one replica.

    Args:
        job: The job.
        rt: The job's resource type (for the ownerReference).
        fw: Its framework.
        rtype: Replica type.
        index: Replica index.
        port: The replica's loopback port.

    Returns:
        The Service to create.
    """
    name = str(job["metadata"]["name"])
    labels = replica_labels(fw, name, rtype, index)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": replica_name(name, rtype, index),
            "namespace": job["metadata"].get("namespace"),
            "labels": labels,
            "ownerReferences": [controller_ref(job, rt)],
        },
        "spec": {
            "clusterIP": "None",
            "selector": labels,
            "ports": [{"name": fw.port_name, "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def new_pod(
    job: Object,
    rt: ResourceType,
    fw: Framework,
    *,
    rtype: str,
    index: int,
    spec: dict[str, Any],
    master: bool,
    port: int,
    restarts: int,
) -> Object:
    """The pod of one replica, before the framework adds its cluster env.

    Args:
        job: The job.
        rt: The job's resource type.
        fw: Its framework.
        rtype: Replica type.
        index: Replica index.
        spec: The defaulted replica spec.
        master: Whether it gets `job-role: master`.
        port: The replica's loopback port (declared on the framework container).
        restarts: Earlier recreations of this replica.

    Returns:
        The pod to create.
    """
    template = copy.deepcopy(spec.get("template") or {})
    meta = template.get("metadata") or {}
    pod_spec: dict[str, Any] = template.get("spec") or {}
    name = str(job["metadata"]["name"])
    labels = {**(meta.get("labels") or {}), **replica_labels(fw, name, rtype, index)}
    if master:
        labels[JOB_ROLE] = "master"
    annotations = dict(meta.get("annotations") or {})
    if restarts:
        annotations[RESTARTS] = str(restarts)
    # ExitCode is the operator's own policy: the pod never restarts and the operator decides.
    policy = spec.get("restartPolicy") or fw.restart_policy
    pod_spec["restartPolicy"] = "Never" if policy == "ExitCode" else policy
    for container in pod_spec.get("containers") or []:
        if container.get("name") == fw.container:
            ports = [p for p in container.get("ports") or [] if p.get("name") != fw.port_name]
            container["ports"] = [*ports, {"name": fw.port_name, "containerPort": port, "protocol": "TCP"}]
    metadata: dict[str, Any] = {
        "name": replica_name(name, rtype, index),
        "namespace": job["metadata"].get("namespace"),
        "labels": labels,
        "ownerReferences": [controller_ref(job, rt)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def set_env(container: dict[str, Any], values: list[tuple[str, str]]) -> None:
    """Appends env vars to a container, replacing same-named ones the operator owns.

    Args:
        container: The container spec, changed in place.
        values: (name, value) pairs in order.
    """
    names = {name for name, _ in values}
    env = [e for e in container.get("env") or [] if e.get("name") not in names]
    container["env"] = [*env, *({"name": name, "value": value} for name, value in values)]
