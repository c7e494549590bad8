"""Per-kind preparation of objects before they are stored: defaults, status resets, generation.

This is the part of each Kubernetes "REST strategy" that mutates (`PrepareForCreate`,
`PrepareForUpdate`, API defaulting); validation is in `admission`.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from kaptain.cluster.apiserver.builtin import (
    GENERATION_KINDS,
    JOB_NAME_LABEL,
    JOB_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
    LEGACY_JOB_UID_LABEL,
)
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.validation import normalize_secret

Object = dict[str, Any]

# The alphabet Kubernetes uses for generateName suffixes (no vowels, no confusable characters).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NAME_SUFFIX_LENGTH = 5

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
NAMESPACE_FINALIZER = "kubernetes"


def now() -> datetime:
    """The current time in UTC, truncated to seconds as Kubernetes timestamps are."""
    return datetime.now(UTC).replace(microsecond=0)


def rfc3339(moment: datetime) -> str:
    """Formats a UTC time as Kubernetes does: "2024-01-02T03:04:05Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_in(seconds: int) -> str:
    """The RFC 3339 time `seconds` from now."""
    return rfc3339(now() + timedelta(seconds=seconds))


def random_suffix() -> str:
    """A random 5-character generateName suffix."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(NAME_SUFFIX_LENGTH))


def copy_json(obj: Any) -> Any:
    """A deep copy of JSON data (also rejects values that are not JSON with TypeError/ValueError)."""
    return json.loads(json.dumps(obj))


def copy_object(obj: Object) -> Object:
    """A deep copy of a JSON object."""
    copied: Object = json.loads(json.dumps(obj))
    return copied


def has_generation(rt: ResourceType) -> bool:
    """Whether objects of `rt` carry `metadata.generation` (all custom resources do)."""
    return not rt.builtin or (rt.group, rt.plural) in GENERATION_KINDS


def spec_changed(rt: ResourceType, new: Object, old: Object) -> bool:
    """Whether an update changes what `metadata.generation` counts.

    Everything except metadata counts; status does not when the kind has a status subresource.
    """
    skip = {"metadata", "status"} if rt.has_status else {"metadata"}
    return {k: v for k, v in new.items() if k not in skip} != {k: v for k, v in old.items() if k not in skip}


def _dict(parent: Object, key: str) -> Object:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _default_container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def default_pod_spec(spec: Object) -> None:
    """Applies the API defaults of a PodSpec that the kubelet and kubectl rely on."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            _default_container(container)


def qos_class(spec: Object) -> str:
    """The pod's QoS class from its containers' requests and limits."""
    containers = [c for c in (spec.get("containers") or []) if isinstance(c, dict)]
    any_set = False
    guaranteed = bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = {**limits, **(resources.get("requests") or {})}
        if limits or requests:
            any_set = True
        if not all(limits.get(r) is not None and requests.get(r) == limits.get(r) for r in ("cpu", "memory")):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default_job(job: Object, uid: str, name: str) -> None:
    spec = _dict(job, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    )
    template = _dict(spec, "template")
    labels = _dict(_dict(template, "metadata"), "labels")
    if not spec.get("manualSelector"):
        spec["selector"] = {"matchLabels": {JOB_UID_LABEL: uid}}
        labels.update(
            {JOB_UID_LABEL: uid, JOB_NAME_LABEL: name, LEGACY_JOB_UID_LABEL: uid, LEGACY_JOB_NAME_LABEL: name}
        )
    default_pod_spec(_dict(template, "spec"))


def _default_service(svc: Object) -> None:
    spec = _dict(svc, "spec")
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _normalize_secret(secret: Object) -> None:
    normalized = normalize_secret(secret)
    secret.clear()
    secret.update(normalized)


def prepare_for_create(rt: ResourceType, obj: Object) -> None:
    """Applies defaults and resets status before an object is first stored.

    Args:
        rt: The object's resource.
        obj: The object, with its final name, namespace and uid already set; modified in place.
    """
    meta = obj["metadata"]
    key = (rt.group, rt.plural)
    if rt.has_status:
        obj.pop("status", None)
    if key == ("", "pods"):
        spec = _dict(obj, "spec")
        default_pod_spec(spec)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}
    elif key == ("batch", "jobs"):
        _default_job(obj, meta["uid"], meta["name"])
        obj["status"] = {}
    elif key == ("", "namespaces"):
        _dict(meta, "labels")[NAMESPACE_NAME_LABEL] = meta["name"]
        _dict(obj, "spec")["finalizers"] = [NAMESPACE_FINALIZER]
        obj["status"] = {"phase": "Active"}
    elif key == ("", "services"):
        _default_service(obj)
        obj["status"] = {"loadBalancer": {}}
    elif key == ("", "secrets"):
        _normalize_secret(obj)


def prepare_for_update(rt: ResourceType, new: Object, old: Object) -> None:
    """Applies defaults and carries over fields a plain update cannot change.

    Args:
        rt: The object's resource.
        new: The object about to be stored (metadata already reconciled with `old`); modified in place.
        old: The stored object.
    """
    key = (rt.group, rt.plural)
    if key == ("", "pods"):
        default_pod_spec(_dict(new, "spec"))
    elif key == ("batch", "jobs"):
        spec = _dict(new, "spec")
        old_spec = old.get("spec") or {}
        # Defaults are applied on every write, so a client that omits them changes nothing.
        fields = (
            "completions",
            "parallelism",
            "backoffLimit",
            "completionMode",
            "suspend",
            "podReplacementPolicy",
        )
        for field in fields:
            if field not in spec and field in old_spec:
                spec[field] = old_spec[field]
        if "selector" not in spec and "selector" in old_spec:
            spec["selector"] = old_spec["selector"]
        default_pod_spec(_dict(_dict(spec, "template"), "spec"))
    elif key == ("", "namespaces"):
        meta = new["metadata"]
        _dict(meta, "labels")[NAMESPACE_NAME_LABEL] = meta["name"]
    elif key == ("", "services"):
        _default_service(new)
    elif key == ("", "secrets"):
        _normalize_secret(new)


def default_propagation(rt: ResourceType) -> str:
    """The propagation policy of a delete that names none.

    batch/v1 Jobs orphan their pods by default, for backwards compatibility, exactly as Kubernetes
    does (kubectl always sends Background); everything else deletes dependents in the background.
    """
    return "Orphan" if (rt.group, rt.plural) == ("batch", "jobs") else "Background"


def pod_grace_period(pod: Object, requested: int | None) -> int:
    """How long a deleted pod may take to stop (Kubernetes' pod `CheckGracefulDelete`).

    Args:
        pod: The stored pod.
        requested: `gracePeriodSeconds` of the delete, if given.

    Returns:
        0 for a pod no kubelet runs (no node, or already finished); else the requested period, the
        spec's `terminationGracePeriodSeconds`, or 30 seconds.
    """
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    grace = requested if requested is not None else spec.get("terminationGracePeriodSeconds", 30)
    grace = int(grace) if isinstance(grace, int) else 30
    # A negative period would mean "already late"; Kubernetes rounds it to one second.
    return 1 if grace < 0 else grace
