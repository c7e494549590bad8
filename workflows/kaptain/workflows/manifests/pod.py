"""Shared pieces of pod templates: object metadata, containers, resources."""

from __future__ import annotations

from typing import Any

from kaptain.workflows.specs import ResourceSpec

__all__ = ["container", "object_meta", "pod_template", "resources"]

Manifest = dict[str, Any]

# Pods of a run must not get a service-mesh sidecar: it would keep a finished pod running (the
# original SDK and Kubeflow's own examples set the same annotation).
_NO_SIDECAR = {"sidecar.istio.io/inject": "false"}


def object_meta(name: str, labels: dict[str, str], annotations: dict[str, str]) -> Manifest:
    """``metadata`` of an object we create."""
    meta: Manifest = {"name": name, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def resources(spec: ResourceSpec) -> Manifest:
    """A container's ``resources`` (empty sections left out)."""
    out: Manifest = {}
    if spec.requests:
        out["requests"] = dict(spec.requests)
    if spec.limits:
        out["limits"] = dict(spec.limits)
    return out


def container(
    *,
    name: str,
    image: str,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    env_from_secrets: list[str] | None = None,
    resource_spec: ResourceSpec | None = None,
    volume_mounts: list[Manifest] | None = None,
) -> Manifest:
    """A container spec.

    Args:
        name: Container name.
        image: Image reference.
        args: Arguments appended to the image's entrypoint.
        env: Plain environment variables (never credentials).
        env_from_secrets: Secrets whose keys become environment variables (``envFrom``).
        resource_spec: Requests and limits.
        volume_mounts: ``volumeMounts`` entries.
    """
    spec: Manifest = {"name": name, "image": image}
    if args:
        spec["args"] = list(args)
    if env:
        spec["env"] = [{"name": key, "value": value} for key, value in env.items()]
    if env_from_secrets:
        spec["envFrom"] = [{"secretRef": {"name": secret}} for secret in env_from_secrets]
    if resource_spec is not None and (res := resources(resource_spec)):
        spec["resources"] = res
    if volume_mounts:
        spec["volumeMounts"] = list(volume_mounts)
    return spec


def pod_template(
    *,
    labels: dict[str, str],
    annotations: dict[str, str],
    containers: list[Manifest],
    restart_policy: str | None = None,
    image_pull_secrets: list[str] | None = None,
    volumes: list[Manifest] | None = None,
) -> Manifest:
    """A pod template carrying the run's labels, so every pod can be found (and cleaned up) by them."""
    spec: Manifest = {"containers": containers}
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": secret} for secret in image_pull_secrets]
    if volumes:
        spec["volumes"] = list(volumes)
    return {
        "metadata": {"labels": dict(labels), "annotations": {**annotations, **_NO_SIDECAR}},
        "spec": spec,
    }
