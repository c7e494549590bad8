"""Kind-specific validation of the built-in kinds the server serves (`pkg/apis/*/validation`).

Covers the rules that matter to clients of a single-node cluster: Pod and pod templates (in
`pod_validation`), Job, Secret, ConfigMap, Service, Namespace, ServiceAccount, Event and
CustomResourceDefinition (in `crd_validation`). Objects arrive as decoded JSON, so wrong JSON types
are reported as causes rather than raising (see `decoded`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any

from kaptain.cluster.apiserver import fielderrors as fe
from kaptain.cluster.apiserver.builtin import (
    JOB_NAME_LABEL,
    JOB_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
    LEGACY_JOB_UID_LABEL,
)
from kaptain.cluster.apiserver.crd_validation import validate_crd
from kaptain.cluster.apiserver.decoded import (
    Cause,
    as_int,
    as_list,
    as_object,
    as_str,
    check_non_negative,
    check_one_of,
    check_positive,
)
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.meta_validation import (
    validate_finalizers,
    validate_labels,
    validate_object_meta,
)
from kaptain.cluster.apiserver.names import (
    is_config_map_key,
    is_dns1123_label,
    is_qualified_name,
    is_valid_port_name,
    is_valid_port_num,
)
from kaptain.cluster.apiserver.pod_validation import PROTOCOLS, validate_pod_spec
from kaptain.cluster.apiserver.selectors import label_selector_from_spec

__all__ = [
    "BUILTIN_KINDS",
    "MAX_SECRET_SIZE",
    "name_rule_for",
    "normalize_secret",
    "validate_builtin",
]

MAX_SECRET_SIZE = 1024 * 1024

# -- pods ----------------------------------------------------------------------------------------


def _validate_pod(obj: Mapping[str, Any]) -> list[Cause]:
    return validate_pod_spec(obj.get("spec"))


# -- jobs ----------------------------------------------------------------------------------------


def _validate_job(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = as_object(obj.get("spec"), "spec", causes)
    for name in (
        "parallelism",
        "completions",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        check_non_negative(spec, name, "spec", causes)
    check_positive(spec, "activeDeadlineSeconds", "spec", causes)
    mode = as_str(spec.get("completionMode"), "spec.completionMode", causes)
    if mode:
        check_one_of(mode, ("NonIndexed", "Indexed"), "spec.completionMode", causes)
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(fe.required("spec.completions", "when completion mode is Indexed"))
    if spec.get("template") is None:
        causes.append(fe.required("spec.template"))
        return causes
    template = as_object(spec.get("template"), "spec.template", causes)
    template_meta = as_object(template.get("metadata"), "spec.template.metadata", causes)
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
        (LEGACY_JOB_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
        (JOB_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
    ):
        have = labels.get(label) if isinstance(labels, dict) else None
        if have is None:
            causes.append(fe.required(f"spec.template.metadata.labels[{label}]", f"must be '{value}'"))
        elif have != value:
            causes.append(fe.invalid(f"spec.template.metadata.labels[{label}]", have, f"must be '{value}'"))
    if not parsed.matches({JOB_UID_LABEL: uid}):
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
    data = _decoded_secret_data(as_object(secret.get("data"), "data", causes), causes)
    if sum(len(v) for v in data.values()) > MAX_SECRET_SIZE:
        causes.append(fe.too_long("data", MAX_SECRET_SIZE))
    secret_type = as_str(secret.get("type"), "type", causes)
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
    data = as_object(obj.get("data"), "data", causes)
    for k, v in data.items():
        causes.extend(fe.invalid(fe.key("data", k), k, msg) for msg in is_config_map_key(k))
        total += len(as_str(v, fe.key("data", k), causes).encode())
    for k, v in as_object(obj.get("binaryData"), "binaryData", causes).items():
        entry = fe.key("binaryData", k)
        causes.extend(fe.invalid(entry, k, msg) for msg in is_config_map_key(k))
        if k in data:
            causes.append(fe.invalid(entry, k, "duplicate of key present in data"))
        try:
            total += len(base64.b64decode(as_str(v, entry, causes), validate=True))
        except (binascii.Error, ValueError) as exc:
            causes.append(fe.invalid(entry, v, f"illegal base64 data: {exc}"))
    if total > MAX_SECRET_SIZE:
        causes.append(fe.too_long("", MAX_SECRET_SIZE))
    return causes


# -- services, namespaces, service accounts, events ----------------------------------------------


def _validate_service(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = as_object(obj.get("spec"), "spec", causes)
    service_type = as_str(spec.get("type"), "spec.type", causes) or "ClusterIP"
    check_one_of(service_type, ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"), "spec.type", causes)
    ports = as_list(spec.get("ports"), "spec.ports", causes)
    headless = spec.get("clusterIP") == "None"
    if service_type == "ExternalName":
        if not spec.get("externalName"):
            causes.append(fe.required("spec.externalName"))
    elif not ports and not headless:
        causes.append(fe.required("spec.ports"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        item = fe.index("spec.ports", i)
        entry = as_object(port, item, causes)
        name = as_str(entry.get("name"), fe.child(item, "name"), causes)
        if len(ports) > 1 and not name:
            causes.append(fe.required(fe.child(item, "name")))
        elif name:
            causes.extend(fe.invalid(fe.child(item, "name"), name, m) for m in is_dns1123_label(name))
            if name in names:
                causes.append(fe.duplicate(fe.child(item, "name"), name))
            names.add(name)
        number = as_int(entry.get("port"), fe.child(item, "port"), causes)
        if number is None:
            causes.append(fe.required(fe.child(item, "port")))
        else:
            causes.extend(fe.invalid(fe.child(item, "port"), number, m) for m in is_valid_port_num(number))
        protocol = as_str(entry.get("protocol"), fe.child(item, "protocol"), causes)
        if protocol:
            check_one_of(protocol, PROTOCOLS, fe.child(item, "protocol"), causes)
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
    spec = as_object(obj.get("spec"), "spec", causes)
    causes.extend(validate_finalizers(spec.get("finalizers"), "spec.finalizers", builtin=True))
    return causes


def _validate_service_account(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for list_name in ("secrets", "imagePullSecrets"):
        for i, ref in enumerate(as_list(obj.get(list_name), list_name, causes)):
            as_str(
                as_object(ref, fe.index(list_name, i), causes).get("name"),
                fe.child(fe.index(list_name, i), "name"),
                causes,
            )
    automount = obj.get("automountServiceAccountToken")
    if automount is not None and not isinstance(automount, bool):
        causes.append(fe.invalid("automountServiceAccountToken", automount, "must be a boolean"))
    return causes


def _validate_event(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    involved = as_object(obj.get("involvedObject"), "involvedObject", causes)
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    involved_namespace = as_str(involved.get("namespace"), "involvedObject.namespace", causes)
    if involved_namespace and namespace and involved_namespace != namespace:
        causes.append(
            fe.invalid("involvedObject.namespace", involved_namespace, "does not match event.namespace")
        )
    event_type = as_str(obj.get("type"), "type", causes)
    if obj.get("reportingComponent") and event_type:
        check_one_of(event_type, ("Normal", "Warning"), "type", causes)
    for name in ("count",):
        check_non_negative(obj, name, "", causes)
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
    "CustomResourceDefinition": (False, "subdomain", validate_crd),
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
