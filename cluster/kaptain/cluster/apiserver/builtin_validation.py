"""Kind-specific validation of the built-in kinds the server serves (`pkg/apis/*/validation`).

Covers the rules that matter to clients of a single-node cluster: Pod and pod templates, Job,
Secret, ConfigMap, Service, Namespace, ServiceAccount, Event and CustomResourceDefinition. Objects
arrive as decoded JSON, so wrong JSON types are reported as causes rather than raising.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.meta_validation import (
    validate_finalizers,
    validate_labels,
    validate_object_meta,
)
from kaptain.cluster.apiserver.names import (
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_qualified_name,
    is_valid_port_name,
    is_valid_port_num,
)
from kaptain.cluster.apiserver.quantity import parse_quantity
from kaptain.cluster.apiserver.selectors import label_selector_from_spec

__all__ = [
    "BUILTIN_KINDS",
    "MAX_SECRET_SIZE",
    "name_rule_for",
    "normalize_secret",
    "validate_builtin",
    "validate_pod_spec",
]

Cause = dict[str, str]
MAX_SECRET_SIZE = 1024 * 1024
_NEGATIVE = "must be greater than or equal to 0"
_NOT_POSITIVE = "must be greater than zero"
_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
_LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
_JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
_LEGACY_JOB_NAME_LABEL = "job-name"

# -- typed access to decoded JSON ----------------------------------------------------------------


def _obj(value: Any, path: str, causes: list[Cause]) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    causes.append(fe.invalid(path, value, "must be an object"))
    return {}


def _arr(value: Any, path: str, causes: list[Cause]) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    causes.append(fe.invalid(path, value, "must be a list"))
    return []


def _str(value: Any, path: str, causes: list[Cause]) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    causes.append(fe.invalid(path, value, "must be a string"))
    return ""


def _int(value: Any, path: str, causes: list[Cause]) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    causes.append(fe.invalid(path, value, "must be an integer"))
    return None


def _non_negative(parent: Mapping[str, Any], name: str, path: str, causes: list[Cause]) -> None:
    value = _int(parent.get(name), fe.child(path, name), causes)
    if value is not None and value < 0:
        causes.append(fe.invalid(fe.child(path, name), value, _NEGATIVE))


def _positive(parent: Mapping[str, Any], name: str, path: str, causes: list[Cause]) -> None:
    value = _int(parent.get(name), fe.child(path, name), causes)
    if value is not None and value <= 0:
        causes.append(fe.invalid(fe.child(path, name), value, _NOT_POSITIVE))


def _one_of(value: str, allowed: tuple[str, ...], path: str, causes: list[Cause]) -> None:
    if value not in allowed:
        causes.append(fe.not_supported(path, value, allowed))


# -- pods ----------------------------------------------------------------------------------------

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
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
    spec = _obj(resources, path, causes)
    parsed: dict[str, dict[str, Decimal]] = {}
    for section in ("limits", "requests"):
        section_path = fe.child(path, section)
        parsed[section] = {}
        for name, raw in _obj(spec.get(section), section_path, causes).items():
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
                causes.append(fe.invalid(entry, str(raw), _NEGATIVE))
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
    for i, var in enumerate(_arr(env, path, causes)):
        item = fe.index(path, i)
        entry = _obj(var, item, causes)
        name = _str(entry.get("name"), fe.child(item, "name"), causes)
        if not name:
            causes.append(fe.required(fe.child(item, "name")))
        else:
            causes.extend(fe.invalid(fe.child(item, "name"), name, msg) for msg in is_env_var_name(name))
        value_from = entry.get("valueFrom")
        if value_from is None:
            continue
        source = _obj(value_from, fe.child(item, "valueFrom"), causes)
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
    for i, port in enumerate(_arr(ports, path, causes)):
        item = fe.index(path, i)
        entry = _obj(port, item, causes)
        name = _str(entry.get("name"), fe.child(item, "name"), causes)
        if name:
            causes.extend(fe.invalid(fe.child(item, "name"), name, msg) for msg in is_valid_port_name(name))
            if name in names:
                causes.append(fe.duplicate(fe.child(item, "name"), name))
            names.add(name)
        number = _int(entry.get("containerPort"), fe.child(item, "containerPort"), causes)
        if number is None:
            causes.append(fe.required(fe.child(item, "containerPort")))
        else:
            causes.extend(
                fe.invalid(fe.child(item, "containerPort"), number, m) for m in is_valid_port_num(number)
            )
        host_port = _int(entry.get("hostPort"), fe.child(item, "hostPort"), causes)
        if host_port:
            causes.extend(
                fe.invalid(fe.child(item, "hostPort"), host_port, m) for m in is_valid_port_num(host_port)
            )
        protocol = _str(entry.get("protocol"), fe.child(item, "protocol"), causes)
        if protocol:
            _one_of(protocol, _PROTOCOLS, fe.child(item, "protocol"), causes)


def _validate_container(
    container: Any, path: str, volumes: set[str], seen: set[str], causes: list[Cause]
) -> None:
    entry = _obj(container, path, causes)
    name = _str(entry.get("name"), fe.child(path, "name"), causes)
    if not name:
        causes.append(fe.required(fe.child(path, "name")))
    else:
        causes.extend(fe.invalid(fe.child(path, "name"), name, msg) for msg in is_dns1123_label(name))
        if name in seen:
            causes.append(fe.duplicate(fe.child(path, "name"), name))
        seen.add(name)
    image = _str(entry.get("image"), fe.child(path, "image"), causes)
    if not image:
        causes.append(fe.required(fe.child(path, "image")))
    elif image != image.strip():
        causes.append(
            fe.invalid(fe.child(path, "image"), image, "must not have leading or trailing whitespace")
        )
    for list_field in ("command", "args"):
        for i, arg in enumerate(_arr(entry.get(list_field), fe.child(path, list_field), causes)):
            _str(arg, fe.index(fe.child(path, list_field), i), causes)
    pull = _str(entry.get("imagePullPolicy"), fe.child(path, "imagePullPolicy"), causes)
    if pull:
        _one_of(pull, _PULL_POLICIES, fe.child(path, "imagePullPolicy"), causes)
    _validate_ports(entry.get("ports"), fe.child(path, "ports"), causes)
    _validate_env(entry.get("env"), fe.child(path, "env"), causes)
    _validate_resources(entry.get("resources"), fe.child(path, "resources"), causes)
    mounts_path = fe.child(path, "volumeMounts")
    mount_points: set[str] = set()
    for i, mount in enumerate(_arr(entry.get("volumeMounts"), mounts_path, causes)):
        item = fe.index(mounts_path, i)
        spec = _obj(mount, item, causes)
        volume = _str(spec.get("name"), fe.child(item, "name"), causes)
        if not volume:
            causes.append(fe.required(fe.child(item, "name")))
        elif volume not in volumes:
            causes.append(fe.not_found(fe.child(item, "name"), volume))
        mount_path = _str(spec.get("mountPath"), fe.child(item, "mountPath"), causes)
        if not mount_path:
            causes.append(fe.required(fe.child(item, "mountPath")))
        elif mount_path in mount_points:
            causes.append(fe.invalid(fe.child(item, "mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)


def _validate_volumes(volumes: Any, path: str, causes: list[Cause]) -> set[str]:
    names: set[str] = set()
    for i, volume in enumerate(_arr(volumes, path, causes)):
        item = fe.index(path, i)
        spec = _obj(volume, item, causes)
        name = _str(spec.get("name"), fe.child(item, "name"), causes)
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
    pod = _obj(spec, path, causes)
    volumes = _validate_volumes(pod.get("volumes"), fe.child(path, "volumes"), causes)
    containers = _arr(pod.get("containers"), fe.child(path, "containers"), causes)
    if not containers:
        causes.append(fe.required(fe.child(path, "containers")))
    seen: set[str] = set()
    for list_name in ("initContainers", "containers", "ephemeralContainers"):
        list_path = fe.child(path, list_name)
        for i, container in enumerate(_arr(pod.get(list_name), list_path, causes)):
            _validate_container(container, fe.index(list_path, i), volumes, seen, causes)
    restart = _str(pod.get("restartPolicy"), fe.child(path, "restartPolicy"), causes) or "Always"
    _one_of(restart, restart_policies, fe.child(path, "restartPolicy"), causes)
    dns_policy = _str(pod.get("dnsPolicy"), fe.child(path, "dnsPolicy"), causes)
    if dns_policy:
        _one_of(dns_policy, _DNS_POLICIES, fe.child(path, "dnsPolicy"), causes)
    deadline = _int(pod.get("activeDeadlineSeconds"), fe.child(path, "activeDeadlineSeconds"), causes)
    if deadline is not None and not 1 <= deadline <= 2**31 - 1:
        causes.append(
            fe.invalid(
                fe.child(path, "activeDeadlineSeconds"),
                deadline,
                "must be between 1 and 2147483647, inclusive",
            )
        )
    _non_negative(pod, "terminationGracePeriodSeconds", path, causes)
    account = _str(pod.get("serviceAccountName"), fe.child(path, "serviceAccountName"), causes)
    if account:
        causes.extend(
            fe.invalid(fe.child(path, "serviceAccountName"), account, m)
            for m in is_dns1123_subdomain(account)
        )
    node = _str(pod.get("nodeName"), fe.child(path, "nodeName"), causes)
    if node:
        causes.extend(fe.invalid(fe.child(path, "nodeName"), node, m) for m in is_dns1123_subdomain(node))
    causes.extend(validate_labels(pod.get("nodeSelector"), fe.child(path, "nodeSelector")))
    return causes


def _validate_pod(obj: Mapping[str, Any]) -> list[Cause]:
    return validate_pod_spec(obj.get("spec"))


# -- jobs ----------------------------------------------------------------------------------------


def _validate_job(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = _obj(obj.get("spec"), "spec", causes)
    for name in (
        "parallelism",
        "completions",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        _non_negative(spec, name, "spec", causes)
    _positive(spec, "activeDeadlineSeconds", "spec", causes)
    mode = _str(spec.get("completionMode"), "spec.completionMode", causes)
    if mode:
        _one_of(mode, ("NonIndexed", "Indexed"), "spec.completionMode", causes)
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(fe.required("spec.completions", "when completion mode is Indexed"))
    if spec.get("template") is None:
        causes.append(fe.required("spec.template"))
        return causes
    template = _obj(spec.get("template"), "spec.template", causes)
    template_meta = _obj(template.get("metadata"), "spec.template.metadata", causes)
    causes.extend(validate_labels(template_meta.get("labels"), "spec.template.metadata.labels"))
    causes.extend(
        validate_pod_spec(template.get("spec"), "spec.template.spec", restart_policies=("OnFailure", "Never"))
    )
    causes.extend(_validate_job_selector(obj, spec, template_meta))
    return causes


def _validate_job_selector(
    obj: Mapping[str, Any], spec: Mapping[str, Any], template_meta: Mapping[str, Any]
) -> list[Cause]:
    """`ValidateJobSpec` selector rules and `validateGeneratedSelector`."""
    causes: list[Cause] = []
    selector = spec.get("selector")
    manual = spec.get("manualSelector") is True
    if selector is None:
        # Without manualSelector the strategy generates the selector before validation
        # (see `defaults.apply_builtin_defaults`); with it the user must give one.
        if manual:
            causes.append(fe.required("spec.selector"))
        return causes
    if not isinstance(selector, dict):
        return [fe.invalid("spec.selector", selector, "must be an object")]
    try:
        parsed = label_selector_from_spec(selector)
    except ApiError as exc:
        return [fe.invalid("spec.selector", selector, exc.message)]
    labels = template_meta.get("labels") or {}
    if not parsed.matches(labels if isinstance(labels, dict) else {}):
        causes.append(
            fe.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
        )
    if manual:
        return causes
    meta = obj.get("metadata") or {}
    uid = str(meta.get("uid") or "")
    name = str(meta.get("name") or "")
    if not uid:
        causes.append(fe.required("metadata.uid"))
    for label, value in (
        (_LEGACY_CONTROLLER_UID_LABEL, uid),
        (_LEGACY_JOB_NAME_LABEL, name),
        (_CONTROLLER_UID_LABEL, uid),
        (_JOB_NAME_LABEL, name),
    ):
        have = labels.get(label) if isinstance(labels, dict) else None
        if have is None:
            causes.append(fe.required(f"spec.template.metadata.labels[{label}]", f"must be '{value}'"))
        elif have != value:
            causes.append(fe.invalid(f"spec.template.metadata.labels[{label}]", have, f"must be '{value}'"))
    if not parsed.matches({_CONTROLLER_UID_LABEL: uid}):
        causes.append(fe.invalid("spec.selector", selector, "`selector` not auto-generated"))
    return causes


# -- secrets and config maps ---------------------------------------------------------------------


def normalize_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Folds `stringData` into `data` (base64-encoded, overriding equal keys) and defaults `type`.

    kube-apiserver does this while decoding, so `stringData` is never stored or returned.

    Args:
        obj: A Secret.

    Returns:
        A new Secret without `stringData` and with `type` (default `Opaque`).
    """
    out = dict(obj)
    string_data = out.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dict(out.get("data") or {})
        for k, v in string_data.items():
            text = v if isinstance(v, str) else json.dumps(v)
            data[str(k)] = base64.b64encode(text.encode()).decode()
        out["data"] = data
    out.setdefault("type", "Opaque")
    if not out["type"]:
        out["type"] = "Opaque"
    return out


def _decoded_secret_data(data: Mapping[str, Any], causes: list[Cause]) -> dict[str, bytes]:
    decoded: dict[str, bytes] = {}
    for k, v in data.items():
        entry = fe.key("data", str(k))
        causes.extend(fe.invalid(entry, k, msg) for msg in is_config_map_key(str(k)))
        if not isinstance(v, str):
            causes.append(fe.invalid(entry, v, "must be a base64-encoded string"))
            continue
        try:
            decoded[str(k)] = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as exc:
            causes.append(fe.invalid(entry, "<secret contents redacted>", f"illegal base64 data: {exc}"))
    return decoded


def _validate_secret(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    secret = normalize_secret(obj)
    data = _decoded_secret_data(_obj(secret.get("data"), "data", causes), causes)
    if sum(len(v) for v in data.values()) > MAX_SECRET_SIZE:
        causes.append(fe.too_long("data", MAX_SECRET_SIZE))
    secret_type = _str(secret.get("type"), "type", causes)
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    required_keys: dict[str, tuple[str, ...]] = {
        "kubernetes.io/dockercfg": (".dockercfg",),
        "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
        "kubernetes.io/ssh-auth": ("ssh-privatekey",),
        "kubernetes.io/tls": ("tls.crt", "tls.key"),
    }
    for required_key in required_keys.get(secret_type, ()):
        if required_key not in data:
            causes.append(fe.required(fe.key("data", required_key)))
    if secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        docker_key = required_keys[secret_type][0]
        if docker_key in data:
            try:
                json.loads(data[docker_key])
            except ValueError as exc:
                causes.append(fe.invalid(fe.key("data", docker_key), "<secret contents redacted>", str(exc)))
    if secret_type == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes.append(
            fe.required(fe.key("data", "username[password]"), "either username or password is required")
        )
    if secret_type == "kubernetes.io/service-account-token" and not (
        isinstance(annotations, dict) and annotations.get("kubernetes.io/service-account.name")
    ):
        causes.append(fe.required("metadata.annotations[kubernetes.io/service-account.name]"))
    if secret_type:
        causes.extend(fe.invalid("type", secret_type, msg) for msg in is_qualified_name(secret_type))
    return causes


def _validate_config_map(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    data = _obj(obj.get("data"), "data", causes)
    for k, v in data.items():
        causes.extend(fe.invalid(fe.key("data", k), k, msg) for msg in is_config_map_key(k))
        total += len(_str(v, fe.key("data", k), causes).encode())
    for k, v in _obj(obj.get("binaryData"), "binaryData", causes).items():
        entry = fe.key("binaryData", k)
        causes.extend(fe.invalid(entry, k, msg) for msg in is_config_map_key(k))
        if k in data:
            causes.append(fe.invalid(entry, k, "duplicate of key present in data"))
        try:
            total += len(base64.b64decode(_str(v, entry, causes), validate=True))
        except (binascii.Error, ValueError) as exc:
            causes.append(fe.invalid(entry, v, f"illegal base64 data: {exc}"))
    if total > MAX_SECRET_SIZE:
        causes.append(fe.too_long("", MAX_SECRET_SIZE))
    return causes


# -- services, namespaces, service accounts, events ----------------------------------------------


def _validate_service(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = _obj(obj.get("spec"), "spec", causes)
    service_type = _str(spec.get("type"), "spec.type", causes) or "ClusterIP"
    _one_of(service_type, ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"), "spec.type", causes)
    ports = _arr(spec.get("ports"), "spec.ports", causes)
    headless = spec.get("clusterIP") == "None"
    if service_type == "ExternalName":
        if not spec.get("externalName"):
            causes.append(fe.required("spec.externalName"))
    elif not ports and not headless:
        causes.append(fe.required("spec.ports"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        item = fe.index("spec.ports", i)
        entry = _obj(port, item, causes)
        name = _str(entry.get("name"), fe.child(item, "name"), causes)
        if len(ports) > 1 and not name:
            causes.append(fe.required(fe.child(item, "name")))
        elif name:
            causes.extend(fe.invalid(fe.child(item, "name"), name, m) for m in is_dns1123_label(name))
            if name in names:
                causes.append(fe.duplicate(fe.child(item, "name"), name))
            names.add(name)
        number = _int(entry.get("port"), fe.child(item, "port"), causes)
        if number is None:
            causes.append(fe.required(fe.child(item, "port")))
        else:
            causes.extend(fe.invalid(fe.child(item, "port"), number, m) for m in is_valid_port_num(number))
        protocol = _str(entry.get("protocol"), fe.child(item, "protocol"), causes)
        if protocol:
            _one_of(protocol, _PROTOCOLS, fe.child(item, "protocol"), causes)
        target = entry.get("targetPort")
        target_path = fe.child(item, "targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            causes.extend(fe.invalid(target_path, target, m) for m in is_valid_port_num(target))
        elif isinstance(target, str):
            causes.extend(fe.invalid(target_path, target, m) for m in is_valid_port_name(target))
        elif target is not None:
            causes.append(fe.invalid(target_path, target, "must be an integer or a port name"))
    causes.extend(validate_labels(spec.get("selector"), "spec.selector"))
    return causes


def _validate_namespace(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = _obj(obj.get("spec"), "spec", causes)
    causes.extend(validate_finalizers(spec.get("finalizers"), "spec.finalizers", builtin=True))
    return causes


def _validate_service_account(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for list_name in ("secrets", "imagePullSecrets"):
        for i, ref in enumerate(_arr(obj.get(list_name), list_name, causes)):
            _str(
                _obj(ref, fe.index(list_name, i), causes).get("name"),
                fe.child(fe.index(list_name, i), "name"),
                causes,
            )
    automount = obj.get("automountServiceAccountToken")
    if automount is not None and not isinstance(automount, bool):
        causes.append(fe.invalid("automountServiceAccountToken", automount, "must be a boolean"))
    return causes


def _validate_event(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    involved = _obj(obj.get("involvedObject"), "involvedObject", causes)
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    involved_namespace = _str(involved.get("namespace"), "involvedObject.namespace", causes)
    if involved_namespace and namespace and involved_namespace != namespace:
        causes.append(
            fe.invalid("involvedObject.namespace", involved_namespace, "does not match event.namespace")
        )
    event_type = _str(obj.get("type"), "type", causes)
    if obj.get("reportingComponent") and event_type:
        _one_of(event_type, ("Normal", "Warning"), "type", causes)
    for name in ("count",):
        _non_negative(obj, name, "", causes)
    return causes


# -- custom resource definitions -----------------------------------------------------------------


def _validate_crd(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = _obj(obj.get("spec"), "spec", causes)
    group = _str(spec.get("group"), "spec.group", causes)
    if not group:
        causes.append(fe.required("spec.group"))
    else:
        causes.extend(fe.invalid("spec.group", group, m) for m in is_dns1123_subdomain(group))
        if "." not in group:
            causes.append(fe.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = _str(spec.get("scope"), "spec.scope", causes)
    if not scope:
        causes.append(fe.required("spec.scope"))
    else:
        _one_of(scope, ("Cluster", "Namespaced"), "spec.scope", causes)
    names = _obj(spec.get("names"), "spec.names", causes)
    plural = _str(names.get("plural"), "spec.names.plural", causes)
    if not plural:
        causes.append(fe.required("spec.names.plural"))
    else:
        causes.extend(fe.invalid("spec.names.plural", plural, m) for m in is_dns1035_label(plural))
    for optional in ("singular", "listKind"):
        value = _str(names.get(optional), f"spec.names.{optional}", causes)
        if value:
            causes.extend(
                fe.invalid(f"spec.names.{optional}", value, m) for m in is_dns1035_label(value.lower())
            )
    kind = _str(names.get("kind"), "spec.names.kind", causes)
    if not kind:
        causes.append(fe.required("spec.names.kind"))
    else:
        causes.extend(fe.invalid("spec.names.kind", kind, m) for m in is_dns1035_label(kind.lower()))
    for i, short in enumerate(_arr(names.get("shortNames"), "spec.names.shortNames", causes)):
        text = _str(short, fe.index("spec.names.shortNames", i), causes)
        causes.extend(fe.invalid("spec.names.shortNames", text, m) for m in is_dns1035_label(text))
    name = str((obj.get("metadata") or {}).get("name") or "")
    if plural and group and name != f"{plural}.{group}":
        causes.append(fe.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    causes.extend(_validate_crd_versions(spec.get("versions"), causes))
    return causes


def _validate_crd_versions(versions: Any, causes: list[Cause]) -> list[Cause]:
    out: list[Cause] = []
    items = _arr(versions, "spec.versions", causes)
    if not items:
        return [fe.invalid("spec.versions", items, "must have exactly one version marked as storage version")]
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(items):
        item = fe.index("spec.versions", i)
        entry = _obj(version, item, causes)
        name = _str(entry.get("name"), fe.child(item, "name"), causes)
        if not name:
            out.append(fe.required(fe.child(item, "name")))
        else:
            out.extend(fe.invalid(fe.child(item, "name"), name, m) for m in is_dns1035_label(name))
            if name in seen:
                out.append(fe.duplicate(fe.child(item, "name"), name))
            seen.add(name)
        for flag in ("served", "storage"):
            if not isinstance(entry.get(flag), bool):
                out.append(fe.required(fe.child(item, flag)))
        storage += entry.get("storage") is True
        schema = _obj(entry.get("schema"), fe.child(item, "schema"), causes).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            out.append(
                fe.required(fe.child(fe.child(item, "schema"), "openAPIV3Schema"), "schemas are required")
            )
        else:
            out.extend(_structural_causes(schema, f"{item}.schema.openAPIV3Schema", "root"))
    if storage != 1:
        out.append(
            fe.invalid("spec.versions", items, "must have exactly one version marked as storage version")
        )
    return out


_EMPTY_TYPE = {
    "root": "must not be empty at the root",
    "items": "must not be empty for specified array items",
    "field": "must not be empty for specified object fields",
}


def _structural_causes(schema: Any, path: str, level: str) -> list[Cause]:
    """The structural-schema rules the server needs to prune and default (`schema/validation.go`):
    every node has a type unless it is int-or-string, an embedded resource or preserves unknown
    fields; the root is an object; `properties` and `additionalProperties` exclude each other."""
    if not isinstance(schema, dict):
        return [fe.invalid(path, schema, "must be an object")]
    causes: list[Cause] = []
    declared = schema.get("type")
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    untyped_ok = (
        int_or_string
        or schema.get("x-kubernetes-embedded-resource") is True
        or schema.get("x-kubernetes-preserve-unknown-fields") is True
    )
    if not declared and not untyped_ok:
        causes.append(fe.required(fe.child(path, "type"), _EMPTY_TYPE[level]))
    elif level == "root" and declared != "object":
        causes.append(fe.invalid(fe.child(path, "type"), declared or "", "must be object at the root"))
    if int_or_string and declared:
        causes.append(
            fe.invalid(
                fe.child(path, "type"), declared, "must be empty if x-kubernetes-int-or-string is true"
            )
        )
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    if properties and isinstance(additional, dict):
        causes.append(
            fe.forbidden(
                fe.child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if isinstance(properties, dict):
        for name, sub in properties.items():
            causes.extend(_structural_causes(sub, fe.key(fe.child(path, "properties"), name), "field"))
    if isinstance(schema.get("items"), dict):
        causes.extend(_structural_causes(schema["items"], fe.child(path, "items"), "items"))
    if isinstance(additional, dict):
        causes.extend(_structural_causes(additional, fe.child(path, "additionalProperties"), "field"))
    return causes


# -- dispatch ------------------------------------------------------------------------------------

_Validator = Callable[[Mapping[str, Any]], list[Cause]]

# kind -> (namespaced, name rule, kind-specific validator)
BUILTIN_KINDS: dict[str, tuple[bool, str, _Validator]] = {
    "Pod": (True, "subdomain", _validate_pod),
    "Job": (True, "subdomain", _validate_job),
    "Secret": (True, "subdomain", _validate_secret),
    "ConfigMap": (True, "subdomain", _validate_config_map),
    "Service": (True, "dns1035", _validate_service),
    "Namespace": (False, "label", _validate_namespace),
    "ServiceAccount": (True, "subdomain", _validate_service_account),
    "Event": (True, "subdomain", _validate_event),
    "CustomResourceDefinition": (False, "subdomain", _validate_crd),
}


def name_rule_for(kind: str) -> str:
    """The naming rule of a kind (`label` for namespaces, `dns1035` for services, else `subdomain`).

    Args:
        kind: The kind; custom resources use `subdomain`.

    Returns:
        A key of `meta_validation.NAME_RULES`.
    """
    return BUILTIN_KINDS[kind][1] if kind in BUILTIN_KINDS else "subdomain"


def validate_builtin(kind: str, obj: Mapping[str, Any]) -> list[Cause]:
    """Validates a whole built-in object: its metadata (with the kind's scope and name rule) and
    its kind-specific fields.

    The core calls this on create and update of built-in kinds after filling server-side fields
    (namespace, name from generateName, uid) and applying defaults; custom resources go through
    `validate_object_meta` and their CRD schema instead.

    Args:
        kind: The built-in kind (`Pod`, `Job`, ...).
        obj: The object.

    Returns:
        The causes; empty when valid.

    Raises:
        KeyError: For a kind this module does not know.
    """
    namespaced, rule, validator = BUILTIN_KINDS[kind]
    causes = validate_object_meta(obj, namespaced=namespaced, name_rule=rule, builtin=True)
    causes.extend(validator(obj))
    return causes
