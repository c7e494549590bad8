"""Whether a pod fits this node: the resource check of the scheduler (`NodeResourcesFit`).

The node's capacity is the machine's: `cpu` (its CPUs), `memory` (its RAM), `ephemeral-storage`
(the size of the data dir's filesystem, where pods' root filesystems and volumes live), `pods`
(the kubelet's default of 110) and the extended resources configured with
`$KAPTAIN_NODE_EXTENDED_RESOURCES` (e.g. `nvidia.com/gpu=2,example.com/foo=1`; none by default).

A pod's request per resource is computed as Kubernetes does (`resourcehelper.PodRequests`):
the sum over its containers, at least the largest init container (sidecars, init containers with
`restartPolicy: Always`, count as running alongside everything started after them), plus
`spec.overhead`; a container's request defaults to its limit.

Each pod is checked against the node's whole capacity, deliberately not against what the pods
already running here request: a laptop runs side by side what a cluster would spread over several
nodes, so only a pod that could never run on this machine is left Pending as unschedulable, with
the `PodScheduled` condition and the message kube-scheduler writes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.apiserver.quantity import parse_quantity

EXTENDED_RESOURCES_ENV = "KAPTAIN_NODE_EXTENDED_RESOURCES"
DEFAULT_MAX_PODS = 110
NATIVE_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def node_capacity(storage: Path, extended: Mapping[str, int] | None = None) -> dict[str, Decimal]:
    """The resources this machine offers as a Kubernetes node.

    Args:
        storage: A path on the filesystem whose size is the `ephemeral-storage` (the nearest
            existing parent is measured when it does not exist yet).
        extended: Counts of extended resources such as `nvidia.com/gpu`.

    Returns:
        Resource name → amount in base units (cores, bytes, count).

    Raises:
        ValueError: An extended resource has a name that is not a fully qualified extended
            resource name, or a count that is not a non-negative whole number.
    """
    while not storage.exists() and storage.parent != storage:
        storage = storage.parent
    capacity = {
        "cpu": Decimal(os.cpu_count() or 1),
        "memory": Decimal(psutil.virtual_memory().total),
        "ephemeral-storage": Decimal(psutil.disk_usage(str(storage)).total),
        "pods": Decimal(DEFAULT_MAX_PODS),
    }
    for name, count in (extended or {}).items():
        _check_extended(name, count, "node extended resources")
        capacity[name] = Decimal(count)
    return capacity


def parse_extended_resources(text: str, *, source: str = f"${EXTENDED_RESOURCES_ENV}") -> dict[str, int]:
    """Parses extended resources written as `nvidia.com/gpu=2,example.com/foo=1`.

    Args:
        text: Comma-separated `NAME=COUNT` pairs; blank means none.
        source: Where the text comes from, for error messages.

    Returns:
        Resource name → count.

    Raises:
        ValueError: A pair is malformed, a name is repeated or not a fully qualified extended
            resource name, or a count is not a non-negative whole number.
    """
    out: dict[str, int] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, equals, raw = (part.strip() for part in item.partition("="))
        if not equals or not name:
            raise ValueError(f"{source}: {item.strip()!r} is not NAME=COUNT (e.g. nvidia.com/gpu=1)")
        if name in out:
            raise ValueError(f"{source}: {name!r} is given twice")
        try:
            value = parse_quantity(raw)
        except ValueError:
            raise ValueError(f"{source}: the count of {name!r} must be a whole number, got {raw!r}") from None
        _check_extended(name, value, source)
        out[name] = int(value)
    return out


def _check_extended(name: str, count: Any, source: str) -> None:
    domain, slash, short = name.partition("/")
    # Names without a domain, or in kubernetes.io, are Kubernetes' own (cpu, memory, ...).
    native = not slash or domain == "kubernetes.io" or domain.endswith(".kubernetes.io")
    if native or len(domain) > 253 or not _DOMAIN.fullmatch(domain) or not _NAME.fullmatch(short):
        raise ValueError(
            f"{source}: {name!r} is not an extended resource name (a domain, a slash and a name, "
            "e.g. nvidia.com/gpu)"
        )
    if isinstance(count, bool) or not isinstance(count, int | Decimal) or count < 0 or count != int(count):
        raise ValueError(f"{source}: the count of {name!r} must be a non-negative whole number, got {count}")


def container_requests(container: Object) -> dict[str, Decimal]:
    """What one container requests; a resource with only a limit requests its limit.

    Args:
        container: The container spec.

    Returns:
        Resource name → amount in base units.
    """
    resources = container.get("resources") or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return _quantities(merged)


def pod_requests(pod: Object) -> dict[str, Decimal]:
    """The pod's effective request per resource, as the scheduler computes it.

    Args:
        pod: The pod object.

    Returns:
        Resource name → amount in base units: the containers' sum, at least each init
        container's request (plus the sidecars started before it), plus `spec.overhead`.
    """
    spec = pod.get("spec") or {}
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        _add(total, container_requests(container))
    sidecars: dict[str, Decimal] = {}
    init_peak: dict[str, Decimal] = {}
    for container in spec.get("initContainers") or []:
        requests = container_requests(container)
        if container.get("restartPolicy") == "Always":
            _add(total, requests)
            _add(sidecars, requests)
            during = dict(sidecars)
        else:
            during = dict(sidecars)
            _add(during, requests)
        for name, amount in during.items():
            init_peak[name] = max(init_peak.get(name, Decimal(0)), amount)
    for name, amount in init_peak.items():
        total[name] = max(total.get(name, Decimal(0)), amount)
    _add(total, _quantities(spec.get("overhead") or {}))
    return total


def unschedulable_message(pod: Object, capacity: Mapping[str, Decimal]) -> str | None:
    """Why the pod fits on no node, in kube-scheduler's words; None when it fits this one.

    Args:
        pod: The pod object.
        capacity: The node's capacity (`node_capacity`).

    Returns:
        None, or e.g. `0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient nvidia.com/gpu.`
    """
    reasons = []
    if capacity.get("pods", Decimal(DEFAULT_MAX_PODS)) < 1:
        reasons.append("1 Too many pods")
    for name, amount in pod_requests(pod).items():
        if name != "pods" and amount > 0 and amount > capacity.get(name, Decimal(0)):
            reasons.append(f"1 Insufficient {name}")
    if not reasons:
        return None
    # kube-scheduler sorts the "<count> <reason>" strings of its histogram.
    return f"0/1 nodes are available: {', '.join(sorted(reasons))}."


def _quantities(raw: Mapping[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for name, value in raw.items():
        try:
            out[str(name)] = parse_quantity(value)
        except (TypeError, ValueError):
            # The API server rejects such pods; one slipping through must not stop the kubelet.
            continue
    return out


def _add(into: dict[str, Decimal], amounts: Mapping[str, Decimal]) -> None:
    for name, amount in amounts.items():
        into[name] = into.get(name, Decimal(0)) + amount
