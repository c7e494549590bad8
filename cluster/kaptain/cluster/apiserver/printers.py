"""Table cells of the built-in kinds that are computed, not read by a JSONPath.

`kubectl get` asks the server for a `Table`. For built-in kinds Kubernetes computes some columns in
code (pkg/printers/internalversion), e.g. a pod's READY and STATUS; `builtin` attaches these
functions to its `PrinterColumn`s as `compute`. Also the time formatting used by AGE columns.
"""

from __future__ import annotations

import datetime
from typing import Any

Object = dict[str, Any]


def parse_time(value: Any) -> datetime.datetime | None:
    """Parses an RFC 3339 timestamp as found in object metadata and status.

    Args:
        value: The field value.

    Returns:
        An aware datetime, or `None` when absent or malformed.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def human_duration(seconds: float) -> str:
    """Formats a duration like Kubernetes' `duration.HumanDuration` ("45s", "3m20s", "5d4h").

    Args:
        seconds: The duration.

    Returns:
        The short human form.
    """
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(value: Any, now: datetime.datetime) -> str:
    """The time since a timestamp, as printed in AGE columns ("<unknown>" when absent).

    Args:
        value: An RFC 3339 timestamp.
        now: The current time.

    Returns:
        The human duration.
    """
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def _meta(obj: Object) -> Object:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _section(obj: Object, key: str) -> Object:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _has_condition(conditions: list[Any], kind: str) -> bool:
    return any(
        isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True" for c in conditions
    )


# -- pods ---------------------------------------------------------------------------------------


def _terminated_reason(terminated: Object, prefix: str = "") -> str:
    if terminated.get("reason"):
        return f"{prefix}{terminated['reason']}"
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _init_reason(spec: Object, status: Object) -> str | None:
    """The `Init:...` status while init containers have not all succeeded, else `None`."""
    init_specs = _list(spec.get("initContainers"))
    for index, container in enumerate(_list(status.get("initContainerStatuses"))):
        if not isinstance(container, dict):
            continue
        state = _section(container, "state")
        terminated = _section(state, "terminated")
        waiting = _section(state, "waiting")
        if terminated and terminated.get("exitCode", 0) == 0:
            continue
        if terminated:
            return _terminated_reason(terminated, "Init:")
        if waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{index}/{len(init_specs)}"
    return None


def _container_statuses(status: Object) -> list[Object]:
    return [c for c in _list(status.get("containerStatuses")) if isinstance(c, dict)]


def pod_ready(obj: Object) -> str:
    """A pod's READY column: ready containers over containers in the spec ("1/2").

    Args:
        obj: The pod.

    Returns:
        The cell text.
    """
    total = len(_list(_section(obj, "spec").get("containers")))
    ready = sum(
        1
        for c in _container_statuses(_section(obj, "status"))
        if c.get("ready") and "running" in _section(c, "state")
    )
    return f"{ready}/{total}"


def pod_status(obj: Object) -> str:
    """A pod's STATUS column, derived from phase, reason and container states as kubectl shows it.

    Args:
        obj: The pod.

    Returns:
        E.g. "Running", "Completed", "Error", "ErrImagePull", "Init:0/1", "Terminating".
    """
    spec, status, meta = _section(obj, "spec"), _section(obj, "status"), _meta(obj)
    reason = str(status.get("reason") or status.get("phase") or "Pending")
    init_reason = _init_reason(spec, status)
    if init_reason is not None:
        reason = init_reason
    else:
        has_running = False
        # Kubernetes walks the containers backwards so that the first container's state wins.
        for container in reversed(_container_statuses(status)):
            state = _section(container, "state")
            waiting, terminated = _section(state, "waiting"), _section(state, "terminated")
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and "running" in state:
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(_list(status.get("conditions")), "Ready") else "NotReady"
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason


def pod_restarts(obj: Object) -> str:
    """A pod's RESTARTS column: the restart count, with the time since the last restart if any.

    Args:
        obj: The pod.

    Returns:
        E.g. "0" or "2 (15s ago)".
    """
    status = _section(obj, "status")
    init = [c for c in _list(status.get("initContainerStatuses")) if isinstance(c, dict)]
    restarts = 0
    last: datetime.datetime | None = None
    for container in [*init, *_container_statuses(status)]:
        restarts += int(container.get("restartCount") or 0)
        finished = parse_time(_section(_section(container, "lastState"), "terminated").get("finishedAt"))
        if finished is not None and (last is None or finished > last):
            last = finished
    if restarts and last is not None:
        return f"{restarts} ({human_duration((_now() - last).total_seconds())} ago)"
    return str(restarts)


# -- jobs ---------------------------------------------------------------------------------------


def job_status(obj: Object) -> str:
    """A Job's STATUS column (kubectl 1.30+): Complete, Failed, Terminating, Suspended, ... or Running.

    Args:
        obj: The Job.

    Returns:
        The cell text.
    """
    conditions = _list(_section(obj, "status").get("conditions"))
    if _has_condition(conditions, "Complete"):
        return "Complete"
    if _has_condition(conditions, "Failed"):
        return "Failed"
    if _meta(obj).get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(conditions, kind):
            return kind
    return "Running"


def job_completions(obj: Object) -> str:
    """A Job's COMPLETIONS column: "succeeded/completions" ("1/1 of 3" for a work queue).

    Args:
        obj: The Job.

    Returns:
        The cell text.
    """
    spec = _section(obj, "spec")
    succeeded = int(_section(obj, "status").get("succeeded") or 0)
    completions = spec.get("completions")
    parallelism = spec.get("parallelism")
    if completions is not None:
        return f"{succeeded}/{completions}"
    if isinstance(parallelism, int) and parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(obj: Object) -> str:
    """A Job's DURATION column: start to completion, or start to now while it runs ("" before start).

    Args:
        obj: The Job.

    Returns:
        The cell text.
    """
    status = _section(obj, "status")
    started, finished = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    if started is None:
        return ""
    return human_duration(((finished or _now()) - started).total_seconds())


# -- small kinds --------------------------------------------------------------------------------


def data_count(obj: Object) -> int:
    """The DATA column of ConfigMaps and Secrets: number of keys.

    Args:
        obj: The ConfigMap or Secret.

    Returns:
        Keys in `data` plus `binaryData` (ConfigMap) or `stringData` (Secret).
    """
    return len(_section(obj, "data")) + len(_section(obj, "binaryData")) + len(_section(obj, "stringData"))


def service_external_ip(obj: Object) -> str:
    """A Service's EXTERNAL-IP column.

    Args:
        obj: The Service.

    Returns:
        The external IPs joined by commas, or "<none>".
    """
    spec = _section(obj, "spec")
    ips = [str(ip) for ip in _list(spec.get("externalIPs"))]
    ingress = _list(_section(_section(obj, "status"), "loadBalancer").get("ingress"))
    ips += [str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)]
    if ips:
        return ",".join(ips)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def service_ports(obj: Object) -> str:
    """A Service's PORT(S) column, e.g. "80/TCP,443:30443/TCP".

    Args:
        obj: The Service.

    Returns:
        The cell text, or "<none>".
    """
    ports = []
    for port in _list(_section(obj, "spec").get("ports")):
        if isinstance(port, dict):
            text = str(port.get("port", ""))
            if port.get("nodePort"):
                text += f":{port['nodePort']}"
            ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def event_object(obj: Object) -> str:
    """An Event's OBJECT column: "kind/name" of the involved object, kind in lower case.

    Args:
        obj: The Event.

    Returns:
        The cell text.
    """
    involved = _section(obj, "involvedObject")
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def endpoints_summary(obj: Object) -> str:
    """The ENDPOINTS column: up to three "ip:port" pairs, then "+ N more...".

    Args:
        obj: The Endpoints object.

    Returns:
        The cell text, or "<none>".
    """
    pairs: list[str] = []
    for subset in _list(obj.get("subsets")):
        if not isinstance(subset, dict):
            continue
        ports = [p for p in _list(subset.get("ports")) if isinstance(p, dict)] or [{}]
        for address in _list(subset.get("addresses")):
            if not isinstance(address, dict):
                continue
            for port in ports:
                ip = address.get("ip", "")
                pairs.append(f"{ip}:{port['port']}" if "port" in port else str(ip))
    if not pairs:
        return "<none>"
    if len(pairs) > 3:
        return ",".join(pairs[:3]) + f" + {len(pairs) - 3} more..."
    return ",".join(pairs)
