"""Events the kubelet records, liveness restarts, quiet status, deleting pods that never started."""

from __future__ import annotations

import asyncio

from tests.cluster.kubelet.conftest import Node
from tests.cluster.kubelet.helpers import (
    container_status,
    create,
    events_by_reason,
    pod_manifest,
    pods,
    python_container,
    wait_gone,
    wait_phase,
    wait_pod,
    waiting_reason,
)


async def test_events_of_a_pod_life(node: Node) -> None:
    created = await create(node.core, pod_manifest("evented", python_container("main", "print(1)")))
    await wait_phase(node.core, "evented", "Succeeded")
    found = await events_by_reason(node.core, "evented", "Scheduled", "Pulled", "Created", "Started")
    scheduled = found["Scheduled"][0]
    assert scheduled["source"]["component"] == "default-scheduler"
    assert scheduled["message"] == "Successfully assigned default/evented to kaptain"
    started = found["Started"][0]
    assert started["involvedObject"]["uid"] == created["metadata"]["uid"]
    assert started["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert started["type"] == "Normal" and started["source"] == {"component": "kubelet", "host": "kaptain"}


async def test_events_of_failures(node: Node) -> None:
    await create(
        node.core, pod_manifest("nopull", {"name": "main", "image": "example.org/x/y:1", "command": ["true"]})
    )
    code = "import time; data = b'x' * (200 << 20); time.sleep(30)"
    hog = python_container("main", code, resources={"limits": {"memory": "50M"}})
    await create(node.core, pod_manifest("hog", hog, restart="OnFailure"))
    failed = await events_by_reason(node.core, "nopull", "Failed", "BackOff")
    assert any('Failed to pull image "example.org/x/y:1"' in e["message"] for e in failed["Failed"])
    found = await events_by_reason(node.core, "hog", "OOMKilling", "BackOff")
    assert found["OOMKilling"][0]["type"] == "Warning"
    pod = await wait_pod(node.core, "hog", lambda p: container_status(p)["restartCount"] >= 1)
    assert container_status(pod)["lastState"]["terminated"]["reason"] == "OOMKilled"
    for name in ("nopull", "hog"):
        await node.core.delete(pods(node.core), "default", name, grace_period_seconds=1)
    for name in ("nopull", "hog"):
        await wait_gone(node.core, name)


async def test_liveness_probe_failure_restarts_the_container(node: Node) -> None:
    container = python_container(
        "main",
        "import time; time.sleep(100)",
        livenessProbe={"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1},
    )
    await create(
        node.core, pod_manifest("sick", container, restart="Always", terminationGracePeriodSeconds=1)
    )
    pod = await wait_pod(node.core, "sick", lambda p: container_status(p)["restartCount"] >= 1, within=20)
    assert container_status(pod)["lastState"]["terminated"]["exitCode"] == 143
    found = await events_by_reason(node.core, "sick", "Unhealthy", "Killing")
    assert "liveness" in found["Killing"][0]["message"]
    await node.core.delete(pods(node.core), "default", "sick")
    await wait_gone(node.core, "sick")


async def test_status_is_not_rewritten_while_nothing_changes(node: Node) -> None:
    await create(node.core, pod_manifest("quiet", python_container("main", "import time; time.sleep(100)")))
    pod = await wait_phase(node.core, "quiet", "Running")
    await asyncio.sleep(1.5)
    again = await node.core.get(pods(node.core), "default", "quiet")
    assert again["metadata"]["resourceVersion"] == pod["metadata"]["resourceVersion"]
    await node.core.delete(pods(node.core), "default", "quiet", grace_period_seconds=1)
    await wait_gone(node.core, "quiet")


async def test_deleting_a_pod_that_never_started(node: Node) -> None:
    await create(
        node.core, pod_manifest("stuck", {"name": "main", "image": "example.org/x/y:2", "command": ["true"]})
    )
    await wait_pod(node.core, "stuck", lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"))
    await node.core.delete(pods(node.core), "default", "stuck")
    await wait_gone(node.core, "stuck", within=5)
