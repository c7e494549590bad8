"""Validation of pod specs (`ValidatePodSpec`), for Pods and the pod templates of Jobs.

Covers the fields the embedded cluster honours: containers (names, images, ports, env, resources,
volume mounts), volumes, restart and DNS policies, deadlines, service account and node.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.decoded import (
    NEGATIVE,
    Cause,
    as_int,
    as_list,
    as_object,
    as_str,
    check_non_negative,
    check_one_of,
)
from kaptain.cluster.apiserver.meta_validation import validate_labels
from kaptain.cluster.apiserver.names import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_qualified_name,
    is_valid_port_name,
    is_valid_port_num,
)
from kaptain.cluster.apiserver.quantity import parse_quantity

__all__ = ["PROTOCOLS", "validate_pod_spec"]

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_ENV_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")


def _container_resource_name(name: str) -> list[str]:
    if name in _STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-"):
        return []
    prefix, _, _ = name.partition("/")
    if "/" in name and prefix != "kubernetes.io" and not prefix.endswith(".kubernetes.io"):
        return is_qualified_name(name)
    return ["must be a standard resource for containers"]


def _validate_resources(resources: Any, path: str, causes: list[Cause]) -> None:
    spec = as_object(resources, path, causes)
    parsed: dict[str, dict[str, Decimal]] = {}
    for section in ("limits", "requests"):
        section_path = fe.child(path, section)
        parsed[section] = {}
        for name, raw in as_object(spec.get(section), section_path, causes).items():
            entry = fe.key(section_path, name)
            causes.extend(fe.invalid(entry, name, msg) for msg in _container_resource_name(name))
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                causes.append(fe.invalid(entry, raw, "must be a quantity"))
                continue
            try:
                quantity = parse_quantity(raw)
            except ValueError as exc:
                causes.append(fe.invalid(entry, raw, str(exc)))
                continue
            if quantity < 0:
                causes.append(fe.invalid(entry, str(raw), NEGATIVE))
            parsed[section][name] = quantity
    for name, request in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and request > limit:
            raw_request = spec["requests"][name]
            causes.append(
                fe.invalid(
                    fe.key(fe.child(path, "requests"), name),
                    str(raw_request),
                    f"must be less than or equal to {name} limit of {spec['limits'][name]}",
                )
            )


def _validate_env(env: Any, path: str, causes: list[Cause]) -> None:
    for i, var in enumerate(as_list(env, path, causes)):
        item = fe.index(path, i)
        entry = as_object(var, item, causes)
        name = as_str(entry.get("name"), fe.child(item, "name"), causes)
        if not name:
            causes.append(fe.required(fe.child(item, "name")))
        else:
            causes.extend(fe.invalid(fe.child(item, "name"), name, msg) for msg in is_env_var_name(name))
        value_from = entry.get("valueFrom")
        if value_from is None:
            continue
        source = as_object(value_from, fe.child(item, "valueFrom"), causes)
        count = sum(1 for s in _ENV_SOURCES if source.get(s) is not None)
        if count == 0:
            causes.append(
                fe.invalid(
                    fe.child(item, "valueFrom"),
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif count > 1:
            causes.append(
                fe.invalid(
                    fe.child(item, "valueFrom"), "", "may not have more than one field specified at a time"
                )
            )
        if entry.get("value"):
            causes.append(
                fe.invalid(fe.child(item, "valueFrom"), "", "may not be specified when `value` is not empty")
            )
        for ref_name in ("configMapKeyRef", "secretKeyRef"):
            ref = source.get(ref_name)
            if isinstance(ref, dict) and not ref.get("key"):
                causes.append(fe.required(fe.child(fe.child(fe.child(item, "valueFrom"), ref_name), "key")))


def _validate_ports(ports: Any, path: str, causes: list[Cause]) -> None:
    names: set[str] = set()
    for i, port in enumerate(as_list(ports, path, causes)):
        item = fe.index(path, i)
        entry = as_object(port, item, causes)
        name = as_str(entry.get("name"), fe.child(item, "name"), causes)
        if name:
            causes.extend(fe.invalid(fe.child(item, "name"), name, msg) for msg in is_valid_port_name(name))
            if name in names:
                causes.append(fe.duplicate(fe.child(item, "name"), name))
            names.add(name)
        number = as_int(entry.get("containerPort"), fe.child(item, "containerPort"), causes)
        if number is None:
            causes.append(fe.required(fe.child(item, "containerPort")))
        else:
            causes.extend(
                fe.invalid(fe.child(item, "containerPort"), number, m) for m in is_valid_port_num(number)
            )
        host_port = as_int(entry.get("hostPort"), fe.child(item, "hostPort"), causes)
        if host_port:
            causes.extend(
                fe.invalid(fe.child(item, "hostPort"), host_port, m) for m in is_valid_port_num(host_port)
            )
        protocol = as_str(entry.get("protocol"), fe.child(item, "protocol"), causes)
        if protocol:
            check_one_of(protocol, PROTOCOLS, fe.child(item, "protocol"), causes)


def _validate_container(
    container: Any, path: str, volumes: set[str], seen: set[str], causes: list[Cause]
) -> None:
    entry = as_object(container, path, causes)
    name = as_str(entry.get("name"), fe.child(path, "name"), causes)
    if not name:
        causes.append(fe.required(fe.child(path, "name")))
    else:
        causes.extend(fe.invalid(fe.child(path, "name"), name, msg) for msg in is_dns1123_label(name))
        if name in seen:
            causes.append(fe.duplicate(fe.child(path, "name"), name))
        seen.add(name)
    image = as_str(entry.get("image"), fe.child(path, "image"), causes)
    if not image:
        causes.append(fe.required(fe.child(path, "image")))
    elif image != image.strip():
        causes.append(
            fe.invalid(fe.child(path, "image"), image, "must not have leading or trailing whitespace")
        )
    for list_field in ("command", "args"):
        for i, arg in enumerate(as_list(entry.get(list_field), fe.child(path, list_field), causes)):
            as_str(arg, fe.index(fe.child(path, list_field), i), causes)
    pull = as_str(entry.get("imagePullPolicy"), fe.child(path, "imagePullPolicy"), causes)
    if pull:
        check_one_of(pull, _PULL_POLICIES, fe.child(path, "imagePullPolicy"), causes)
    _validate_ports(entry.get("ports"), fe.child(path, "ports"), causes)
    _validate_env(entry.get("env"), fe.child(path, "env"), causes)
    _validate_resources(entry.get("resources"), fe.child(path, "resources"), causes)
    mounts_path = fe.child(path, "volumeMounts")
    mount_points: set[str] = set()
    for i, mount in enumerate(as_list(entry.get("volumeMounts"), mounts_path, causes)):
        item = fe.index(mounts_path, i)
        spec = as_object(mount, item, causes)
        volume = as_str(spec.get("name"), fe.child(item, "name"), causes)
        if not volume:
            causes.append(fe.required(fe.child(item, "name")))
        elif volume not in volumes:
            causes.append(fe.not_found(fe.child(item, "name"), volume))
        mount_path = as_str(spec.get("mountPath"), fe.child(item, "mountPath"), causes)
        if not mount_path:
            causes.append(fe.required(fe.child(item, "mountPath")))
        elif mount_path in mount_points:
            causes.append(fe.invalid(fe.child(item, "mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)


def _validate_volumes(volumes: Any, path: str, causes: list[Cause]) -> set[str]:
    names: set[str] = set()
    for i, volume in enumerate(as_list(volumes, path, causes)):
        item = fe.index(path, i)
        spec = as_object(volume, item, causes)
        name = as_str(spec.get("name"), fe.child(item, "name"), causes)
        if not name:
            causes.append(fe.required(fe.child(item, "name")))
        else:
            causes.extend(fe.invalid(fe.child(item, "name"), name, msg) for msg in is_dns1123_label(name))
            if name in names:
                causes.append(fe.duplicate(fe.child(item, "name"), name))
            names.add(name)
        sources = [k for k, v in spec.items() if k != "name" and v is not None]
        if not sources:
            causes.append(fe.required(item, "must specify a volume type"))
        for extra in sources[1:]:
            causes.append(fe.forbidden(fe.child(item, extra), "may not specify more than 1 volume type"))
    return names


def validate_pod_spec(
    spec: Any, path: str = "spec", *, restart_policies: tuple[str, ...] = _RESTART_POLICIES
) -> list[Cause]:
    """`ValidatePodSpec` for the fields the embedded cluster honours.

    A missing `restartPolicy` counts as `Always`, the default kube-apiserver fills in first.

    Args:
        spec: The pod spec.
        path: Its field path (`spec`, or `spec.template.spec` in a Job).
        restart_policies: The allowed restart policies (a Job's pods allow OnFailure and Never).

    Returns:
        The causes.
    """
    causes: list[Cause] = []
    pod = as_object(spec, path, causes)
    volumes = _validate_volumes(pod.get("volumes"), fe.child(path, "volumes"), causes)
    containers = as_list(pod.get("containers"), fe.child(path, "containers"), causes)
    if not containers:
        causes.append(fe.required(fe.child(path, "containers")))
    seen: set[str] = set()
    for list_name in ("initContainers", "containers", "ephemeralContainers"):
        list_path = fe.child(path, list_name)
        for i, container in enumerate(as_list(pod.get(list_name), list_path, causes)):
            _validate_container(container, fe.index(list_path, i), volumes, seen, causes)
    restart = as_str(pod.get("restartPolicy"), fe.child(path, "restartPolicy"), causes) or "Always"
    check_one_of(restart, restart_policies, fe.child(path, "restartPolicy"), causes)
    dns_policy = as_str(pod.get("dnsPolicy"), fe.child(path, "dnsPolicy"), causes)
    if dns_policy:
        check_one_of(dns_policy, _DNS_POLICIES, fe.child(path, "dnsPolicy"), causes)
    deadline = as_int(pod.get("activeDeadlineSeconds"), fe.child(path, "activeDeadlineSeconds"), causes)
    if deadline is not None and not 1 <= deadline <= 2**31 - 1:
        causes.append(
            fe.invalid(
                fe.child(path, "activeDeadlineSeconds"),
                deadline,
                "must be between 1 and 2147483647, inclusive",
            )
        )
    check_non_negative(pod, "terminationGracePeriodSeconds", path, causes)
    account = as_str(pod.get("serviceAccountName"), fe.child(path, "serviceAccountName"), causes)
    if account:
        causes.extend(
            fe.invalid(fe.child(path, "serviceAccountName"), account, m)
            for m in is_dns1123_subdomain(account)
        )
    node = as_str(pod.get("nodeName"), fe.child(path, "nodeName"), causes)
    if node:
        causes.extend(fe.invalid(fe.child(path, "nodeName"), node, m) for m in is_dns1123_subdomain(node))
    causes.extend(validate_labels(pod.get("nodeSelector"), fe.child(path, "nodeSelector")))
    return causes
