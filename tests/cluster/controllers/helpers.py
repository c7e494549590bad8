"""Test helpers: resource lookup, bounded polling, and writing pod status as the kubelet does."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import yaml

from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.schema import StructuralSchema
from tests.conftest import CRDS

T = TypeVar("T")
NS = "default"
# startTime and completionTime are stamped in whole seconds (as Kubernetes does), so a deadline
# or TTL of N seconds can expire as little as N-1 seconds after the job started or finished; 3
# leaves a test 2 s to act on (or see) the job before it does.
TTL_SECONDS = 3
DEADLINE_SECONDS = 3


def rt(core: ApiCore, group: str, version: str, plural: str) -> ResourceType:
    found = core.registry.get(group, version, plural)
    assert found is not None, f"{plural} not served"
    return found


def jobs(core: ApiCore) -> ResourceType:
    return rt(core, "batch", "v1", "jobs")


def pods(core: ApiCore) -> ResourceType:
    return rt(core, "", "v1", "pods")


def services(core: ApiCore) -> ResourceType:
    return rt(core, "", "v1", "services")


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 10.0, what: str = "") -> T:
    """Polls `probe` until it returns something truthy; fails after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {within}s waiting for {what or probe}; last: {last!r}")


async def list_pods(core: ApiCore, selector: str | None = None, namespace: str = NS) -> list[Object]:
    items, _ = await core.list(pods(core), namespace, label_selector=selector)
    return sorted(items, key=lambda p: str(p["metadata"]["name"]))


def stamp(offset: float = 0.0) -> str:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


async def set_pod_status(
    core: ApiCore,
    name: str,
    phase: str,
    *,
    exit_code: int | None = None,
    restart_count: int = 0,
    ready: bool = False,
    namespace: str = NS,
) -> Object:
    """Reports a pod's status as the kubelet would: phase, container states, Ready condition."""
    pod = await core.get(pods(core), namespace, name)
    statuses: list[dict[str, Any]] = []
    for container in pod["spec"]["containers"]:
        if exit_code is not None:
            state: dict[str, Any] = {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": "Completed" if exit_code == 0 else "Error",
                    "startedAt": stamp(-1),
                    "finishedAt": stamp(),
                }
            }
        elif phase == "Running":
            state = {"running": {"startedAt": stamp()}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        statuses.append(
            {
                "name": container["name"],
                "image": container.get("image", ""),
                "ready": ready,
                "restartCount": restart_count,
                "started": phase == "Running",
                "state": state,
            }
        )
    pod["status"] = {
        **(pod.get("status") or {}),
        "phase": phase,
        "containerStatuses": statuses,
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp()}
        ],
    }
    return await core.update(pods(core), namespace, name, pod, subresource="status")


def condition(obj: Object, kind: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            result: dict[str, Any] = cond
            return result
    return None


def is_true(obj: Object, kind: str) -> bool:
    cond = condition(obj, kind)
    return cond is not None and cond.get("status") == "True"


_SCHEMAS: dict[str, StructuralSchema] = {}


def upstream_schema(crd_file: str) -> StructuralSchema:
    """The openAPIV3Schema of the upstream CRD in `../shared/crds`."""
    if crd_file not in _SCHEMAS:
        crd = yaml.safe_load((CRDS / crd_file).read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
        _SCHEMAS[crd_file] = StructuralSchema(version["schema"]["openAPIV3Schema"])
    return _SCHEMAS[crd_file]


def assert_valid_upstream(obj: Object) -> None:
    """Fails unless `obj` (a TFJob or PyTorchJob manifest) validates against the upstream CRD."""
    crd_file = {"TFJob": "kubeflow.org_tfjobs.yaml", "PyTorchJob": "kubeflow.org_pytorchjobs.yaml"}[
        obj["kind"]
    ]
    causes = upstream_schema(crd_file).validate(obj)
    assert causes == [], causes


async def event_reasons(core: ApiCore, kind: str, name: str, namespace: str = NS) -> list[str]:
    """Reasons of the Events about one object, oldest first."""
    items, _ = await core.list(rt(core, "", "v1", "events"), namespace)
    mine = [
        e
        for e in items
        if e["involvedObject"].get("kind") == kind and e["involvedObject"].get("name") == name
    ]
    return [
        str(e["reason"]) for e in sorted(mine, key=lambda e: str(e["metadata"]["resourceVersion"]).zfill(20))
    ]
