"""Scheduling: effective requests, the node's capacity, and pods that fit nowhere staying Pending."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kaptain.cluster.kubelet import Kubelet
from kaptain.cluster.kubelet.scheduling import (
    DEFAULT_MAX_PODS,
    node_capacity,
    parse_extended_resources,
    pod_requests,
    unschedulable_message,
)
from tests.cluster.kubelet.conftest import Node
from tests.cluster.kubelet.helpers import (
    create,
    events_by_reason,
    pod_manifest,
    pods,
    processes_with_marker,
    python_container,
    wait_gone,
    wait_phase,
    wait_pod,
)

Object = dict[str, Any]
GPU_MESSAGE = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
CPU_MESSAGE = "0/1 nodes are available: 1 Insufficient cpu."
CAPACITY = {
    "cpu": Decimal(4),
    "memory": Decimal(8 << 30),
    "ephemeral-storage": Decimal(100 << 30),
    "pods": Decimal(110),
}


def _container(
    name: str, requests: Object | None = None, limits: Object | None = None, **extra: Any
) -> Object:
    resources: Object = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "python:3.11", "resources": resources, **extra}


def _pod(*containers: Object, init: list[Object] | None = None, **spec: Any) -> Object:
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": list(containers), "initContainers": init or [], **spec},
    }


# -- effective requests and the message ------------------------------------------------------------


def test_requests_sum_containers_and_default_to_limits() -> None:
    pod = _pod(
        _container("a", {"cpu": "500m", "memory": "1Gi"}),
        _container("b", None, {"cpu": "1", "nvidia.com/gpu": 1}),
        _container("c", {"cpu": "250m"}, {"cpu": "2", "memory": "512Mi"}),
        _container("d"),
    )
    assert pod_requests(pod) == {
        "cpu": Decimal("1.75"),
        "memory": Decimal(1 << 30) + Decimal(512 << 20),
        "nvidia.com/gpu": Decimal(1),
    }


def test_requests_take_the_largest_init_container() -> None:
    init = [_container("big", {"cpu": "3"}), _container("small", {"cpu": "1", "memory": "4Gi"})]
    pod = _pod(_container("a", {"cpu": "1", "memory": "1Gi"}), _container("b", {"cpu": "1"}), init=init)
    assert pod_requests(pod) == {"cpu": Decimal(3), "memory": Decimal(4 << 30)}
    modest = _pod(_container("a", {"cpu": "2"}), init=[_container("i", None, {"cpu": "1"})])
    assert pod_requests(modest) == {"cpu": Decimal(2)}


def test_requests_count_sidecars_and_overhead() -> None:
    sidecar = _container("proxy", {"cpu": "500m"}, restartPolicy="Always")
    init = [sidecar, _container("setup", {"cpu": "2"})]
    pod = _pod(_container("a", {"cpu": "1"}), init=init, overhead={"cpu": "100m"})
    # The setup runs next to the sidecar (2.5); afterwards the sidecar runs next to `a` (1.5).
    assert pod_requests(pod) == {"cpu": Decimal("2.6")}


def test_message_lists_insufficient_resources_sorted() -> None:
    fits = _pod(_container("a", {"cpu": "4", "memory": "8Gi"}))
    assert unschedulable_message(fits, CAPACITY) is None
    assert (
        unschedulable_message(_pod(_container("a", None, {"nvidia.com/gpu": "1"})), CAPACITY) == GPU_MESSAGE
    )
    greedy = _pod(_container("a", {"nvidia.com/gpu": 1, "memory": "9Gi", "cpu": "4001m"}))
    assert unschedulable_message(greedy, CAPACITY) == (
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Insufficient nvidia.com/gpu."
    )
    with_gpu = {**CAPACITY, "nvidia.com/gpu": Decimal(1)}
    assert unschedulable_message(_pod(_container("a", None, {"nvidia.com/gpu": 1})), with_gpu) is None
    assert unschedulable_message(_pod(_container("a", {"example.com/foo": 0})), CAPACITY) is None
    init_heavy = _pod(_container("a"), init=[_container("i", {"ephemeral-storage": "200Gi"})])
    assert unschedulable_message(init_heavy, CAPACITY) == (
        "0/1 nodes are available: 1 Insufficient ephemeral-storage."
    )


# -- capacity and its configuration ------------------------------------------------------------------


def test_node_capacity_is_the_machine_plus_extended_resources(tmp_path: Path) -> None:
    capacity = node_capacity(tmp_path / "not" / "yet", {"nvidia.com/gpu": 2})
    assert capacity["cpu"] == os.cpu_count()
    assert capacity["memory"] > 0 and capacity["ephemeral-storage"] > 0
    assert capacity["pods"] == DEFAULT_MAX_PODS
    assert capacity["nvidia.com/gpu"] == 2
    with pytest.raises(ValueError, match="'cpu' is not an extended resource name"):
        node_capacity(tmp_path, {"cpu": 64})


def test_parse_extended_resources() -> None:
    assert parse_extended_resources("") == {}
    assert parse_extended_resources(" nvidia.com/gpu = 2 , example.com/foo=1,") == {
        "nvidia.com/gpu": 2,
        "example.com/foo": 1,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nvidia.com/gpu", "'nvidia.com/gpu' is not NAME=COUNT"),
        ("nvidia.com/gpu=lots", "the count of 'nvidia.com/gpu' must be a whole number, got 'lots'"),
        ("nvidia.com/gpu=0.5", "must be a non-negative whole number, got 0.5"),
        ("nvidia.com/gpu=-1", "must be a non-negative whole number, got -1"),
        ("gpu=1", "'gpu' is not an extended resource name"),
        ("kubernetes.io/gpu=1", "'kubernetes.io/gpu' is not an extended resource name"),
        ("Bad_Domain/x=1", "'Bad_Domain/x' is not an extended resource name"),
        ("a.com/x=1,a.com/x=2", "'a.com/x' is given twice"),
    ],
)
def test_parse_extended_resources_refuses_bad_values(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^\$KAPTAIN_NODE_EXTENDED_RESOURCES: ") as info:
        parse_extended_resources(text)
    assert message in str(info.value)


# -- the real kubelet ----------------------------------------------------------------------------------


def _scheduled(pod: Object) -> Object:
    found = [c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == "PodScheduled"]
    return dict(found[0]) if found else {}


async def _wait_unschedulable(node: Node, name: str, message: str) -> Object:
    pod = await wait_pod(
        node.core, name, lambda p: _scheduled(p).get("status") == "False", what="unschedulable"
    )
    condition = _scheduled(pod)
    assert condition.pop("lastTransitionTime").endswith("Z")
    assert condition == {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastProbeTime": None,
    }
    assert pod["status"]["phase"] == "Pending"
    assert not pod["spec"].get("nodeName")
    assert "containerStatuses" not in pod["status"]
    return pod


async def test_pods_that_fit_nowhere_stay_pending_and_can_be_deleted(node: Node) -> None:
    gpu = python_container("main", "print('ran')", resources={"limits": {"nvidia.com/gpu": 1}})
    cpu = python_container("main", "print('ran')", resources={"requests": {"cpu": "1000"}})
    await create(node.core, pod_manifest("gpu", gpu))
    await create(node.core, pod_manifest("cpu", cpu))
    marked = await _wait_unschedulable(node, "gpu", GPU_MESSAGE)
    await _wait_unschedulable(node, "cpu", CPU_MESSAGE)
    for name, message in (("gpu", GPU_MESSAGE), ("cpu", CPU_MESSAGE)):
        event = (await events_by_reason(node.core, name, "FailedScheduling"))["FailedScheduling"][0]
        assert event["type"] == "Warning" and event["message"] == message
        assert event["source"] == {"component": "default-scheduler"}
    # The kubelet sees its own status write come back: it must neither write nor report again.
    await asyncio.sleep(1.5)
    again = await node.core.get(pods(node.core), "default", "gpu")
    assert again["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
    for name in ("gpu", "cpu"):
        found = await events_by_reason(node.core, name, "FailedScheduling")
        assert sorted(found) == ["FailedScheduling"] and len(found["FailedScheduling"]) == 1
        assert found["FailedScheduling"][0]["count"] == 1
    assert processes_with_marker(node.kubelet.process_marker) == []
    assert not any(
        p.name.startswith(("default_gpu_", "default_cpu_")) for p in (node.data_dir / "pods").iterdir()
    )
    for name in ("gpu", "cpu"):
        await node.core.delete(pods(node.core), "default", name)
        await wait_gone(node.core, name, within=5)


@pytest.mark.parametrize("extended_resources", [{"nvidia.com/gpu": 1}])
async def test_pods_that_fit_run(node: Node) -> None:
    gpu = python_container("main", "print('ran')", resources={"limits": {"nvidia.com/gpu": 1}})
    modest = python_container(
        "main",
        "print('ran')",
        resources={"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1"}},
    )
    two = python_container("main", "print('ran')", resources={"limits": {"nvidia.com/gpu": 2}})
    await create(node.core, pod_manifest("gpu", gpu))
    await create(node.core, pod_manifest("modest", modest))
    await create(node.core, pod_manifest("two", two))
    for name in ("gpu", "modest"):
        pod = await wait_phase(node.core, name, "Succeeded", "Failed")
        assert pod["status"]["phase"] == "Succeeded"
        assert _scheduled(pod)["status"] == "True"
    await _wait_unschedulable(node, "two", GPU_MESSAGE)


async def test_a_pod_is_scheduled_once_the_node_offers_what_it_needs(node: Node) -> None:
    gpu = python_container("main", "print('ran')", resources={"limits": {"nvidia.com/gpu": 1}})
    await create(node.core, pod_manifest("later", gpu))
    await _wait_unschedulable(node, "later", GPU_MESSAGE)
    await node.kubelet.stop()
    # The same node restarted with a GPU configured, as after changing the setting.
    kubelet = Kubelet(
        node.core,
        data_dir=node.data_dir,
        images=node.images,
        stop_grace=1.0,
        extended_resources={"nvidia.com/gpu": 1},
    )
    await kubelet.start()
    try:
        pod = await wait_phase(node.core, "later", "Succeeded", "Failed")
        assert pod["status"]["phase"] == "Succeeded"
        assert _scheduled(pod)["status"] == "True" and pod["spec"]["nodeName"] == "kaptain"
    finally:
        await kubelet.stop()
