"""The environment Kubernetes computes for a container: `envFrom`, `env` and their references.

Follows the kubelet's `makeEnvironmentVariables`: `envFrom` sources first (keys that are not
valid variable names are skipped), then `env` entries in order, each value expanded with
`$(VAR)` against what is defined so far. A reference to a missing Secret, ConfigMap or key fails
with the message Kubernetes reports as `CreateContainerConfigError`, unless marked `optional`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.apiserver.quantity import parse_quantity
from kaptain.cluster.kubelet.expansion import expand
from kaptain.cluster.kubelet.refs import ConfigError, RefReader
from kaptain.cluster.kubelet.scheduling import NATIVE_RESOURCES

POD_IP = "127.0.0.1"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


async def container_env(
    pod: Object, container: Object, refs: RefReader, capacity: Mapping[str, Decimal]
) -> dict[str, str]:
    """Computes the variables Kubernetes defines for one container (not including the image's).

    Args:
        pod: The pod object.
        container: The container spec.
        refs: Reader for the pod namespace's Secrets and ConfigMaps.
        capacity: The node's capacity, what `resourceFieldRef` reports for a resource without limit.

    Returns:
        The variables in definition order.

    Raises:
        ConfigError: A non-optional reference cannot be resolved.
    """
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        await _add_env_from(env, source, refs)
    for entry in container.get("env") or []:
        name = str(entry.get("name", ""))
        if "valueFrom" in entry and entry["valueFrom"] is not None:
            value = await _value_from(pod, container, entry["valueFrom"], refs, capacity)
            if value is None:
                continue
            env[name] = value
        else:
            env[name] = expand(str(entry.get("value") or ""), env)
    return env


async def _add_env_from(env: dict[str, str], source: Object, refs: RefReader) -> None:
    prefix = str(source.get("prefix") or "")
    if source.get("secretRef") is not None:
        ref = source["secretRef"]
        data = await refs.secret(str(ref.get("name", "")))
        kind = "secret"
    elif source.get("configMapRef") is not None:
        ref = source["configMapRef"]
        data = await refs.config_map(str(ref.get("name", "")))
        kind = "configmap"
    else:
        return
    if data is None:
        if ref.get("optional"):
            return
        raise ConfigError(f'{kind} "{ref.get("name", "")}" not found')
    for key, raw in data.items():
        name = prefix + key
        # Kubernetes skips (and reports in an event) keys that are not valid variable names.
        if _ENV_NAME.match(name):
            env[name] = raw.decode(errors="replace")


async def _value_from(
    pod: Object, container: Object, source: Object, refs: RefReader, capacity: Mapping[str, Decimal]
) -> str | None:
    if source.get("secretKeyRef") is not None:
        return await _key_ref(source["secretKeyRef"], refs, secret=True)
    if source.get("configMapKeyRef") is not None:
        return await _key_ref(source["configMapKeyRef"], refs, secret=False)
    if source.get("fieldRef") is not None:
        return field_value(pod, str(source["fieldRef"].get("fieldPath", "")))
    if source.get("resourceFieldRef") is not None:
        return resource_value(pod, container, source["resourceFieldRef"], capacity)
    raise ConfigError("valueFrom must set one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef")


async def _key_ref(ref: Object, refs: RefReader, *, secret: bool) -> str | None:
    name = str(ref.get("name", ""))
    key = str(ref.get("key", ""))
    optional = bool(ref.get("optional"))
    data = await (refs.secret(name) if secret else refs.config_map(name))
    kind, kind_title = ("secret", "Secret") if secret else ("configmap", "ConfigMap")
    if data is None:
        if optional:
            return None
        raise ConfigError(f'{kind} "{name}" not found')
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind_title} {refs.namespace}/{name}")
    return data[key].decode(errors="replace")


def field_value(pod: Object, path: str) -> str:
    """Resolves a downward-API `fieldRef.fieldPath` against the pod.

    Args:
        pod: The pod object.
        path: The field path, e.g. `metadata.name` or `metadata.labels['app']`.

    Returns:
        The value as a string.

    Raises:
        ConfigError: The field path is not supported by Kubernetes' downward API.
    """
    meta: dict[str, Any] = pod.get("metadata") or {}
    spec: dict[str, Any] = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": POD_IP,
        "status.hostIPs": POD_IP,
        "status.podIP": POD_IP,
        "status.podIPs": POD_IP,
    }
    if path in simple:
        return str(simple[path] or "")
    match = _SUBSCRIPT.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")


def resource_value(pod: Object, container: Object, ref: Object, capacity: Mapping[str, Decimal]) -> str:
    """Resolves a `resourceFieldRef` (limits/requests of cpu, memory, ephemeral-storage).

    Without a limit the node's capacity is used, as the kubelet does.

    Args:
        pod: The pod object.
        container: The container whose resources are read unless `ref.containerName` names another.
        ref: The `resourceFieldRef`.
        capacity: The node's capacity (`scheduling.node_capacity`).

    Returns:
        The value divided by `divisor` and rounded up, as a string.

    Raises:
        ConfigError: The resource or container is unknown, or a quantity is malformed.
    """
    target = container
    wanted = ref.get("containerName")
    if wanted:
        found = [c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == wanted]
        if not found:
            raise ConfigError(f"resourceFieldRef names unknown container {wanted!r}")
        target = found[0]
    resource = str(ref.get("resource", ""))
    section, _, name = resource.partition(".")
    resources = target.get("resources") or {}
    try:
        raw = (resources.get(section) or {}).get(name)
        if raw is None and section == "requests":
            raw = (resources.get("limits") or {}).get(name)
        value = parse_quantity(raw) if raw is not None else _capacity(capacity, name)
        divisor = parse_quantity(ref.get("divisor") or "1")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if section not in ("limits", "requests"):
        raise ConfigError(f"unsupported resourceFieldRef resource {resource!r}")
    return str(math.ceil(value / divisor))


def _capacity(capacity: Mapping[str, Decimal], name: str) -> Decimal:
    if name not in NATIVE_RESOURCES or name not in capacity:
        raise ConfigError(f"unsupported resourceFieldRef resource {name!r}")
    return capacity[name]
