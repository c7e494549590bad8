"""`pods/log` through the kubelet: follow, tail, timestamps, previous, container choice, errors."""

from __future__ import annotations

import asyncio
import re

import pytest

from kaptain.cluster.apiserver.errors import ApiError
from tests.cluster.kubelet.conftest import Node
from tests.cluster.kubelet.helpers import (
    create,
    log_text,
    pod_manifest,
    python_container,
    rt,
    wait_phase,
    wait_pod,
    waiting_reason,
)

_COUNT = "import sys, time\nfor i in range(5):\n    print('line', i, flush=True); time.sleep(0.15)\nprint('err', file=sys.stderr)"


async def test_follow_started_before_the_container_finishes_gets_every_line(node: Node) -> None:
    await create(node.core, pod_manifest("counter", python_container("main", _COUNT)))
    await wait_pod(node.core, "counter", lambda p: (p.get("status") or {}).get("phase") == "Running")
    text = await asyncio.wait_for(log_text(node.kubelet, "counter", follow=True), 20)
    assert text == "".join(f"line {i}\n" for i in range(5)) + "err\n"
    pod = await wait_phase(node.core, "counter", "Succeeded")
    assert pod["status"]["phase"] == "Succeeded"


async def test_follow_started_before_the_container_starts(node: Node) -> None:
    # The secret is missing at first, so the container waits; the follower waits with it.
    container = python_container(
        "main",
        _COUNT,
        env=[{"name": "T", "valueFrom": {"secretKeyRef": {"name": "later", "key": "t"}}}],
    )
    await create(node.core, pod_manifest("waiter", container))
    await wait_pod(node.core, "waiter", lambda p: waiting_reason(p) == "CreateContainerConfigError")
    with pytest.raises(ApiError) as err:
        await log_text(node.kubelet, "waiter")
    assert err.value.code == 400
    assert (
        err.value.message
        == 'container "main" in pod "waiter" is waiting to start: CreateContainerConfigError'
    )
    follower = asyncio.create_task(log_text(node.kubelet, "waiter", follow=True))
    await asyncio.sleep(0.3)
    assert not follower.done()
    await node.core.create(
        rt(node.core, "secrets"), "default", {"metadata": {"name": "later"}, "data": {"t": "eA=="}}
    )
    text = await asyncio.wait_for(follower, 20)
    assert text.endswith("line 4\nerr\n") and text.startswith("line 0\n")


async def test_tail_lines_and_timestamps(node: Node) -> None:
    await create(node.core, pod_manifest("tail", python_container("main", "for i in range(10): print(i)")))
    await wait_phase(node.core, "tail", "Succeeded")
    assert await log_text(node.kubelet, "tail", tail_lines=3) == "7\n8\n9\n"
    assert await log_text(node.kubelet, "tail", tail_lines=0) == ""
    stamped = (await log_text(node.kubelet, "tail", tail_lines=2, timestamps=True)).splitlines()
    assert len(stamped) == 2
    for line, value in zip(stamped, ("8", "9"), strict=True):
        stamp, text = line.split(" ", 1)
        assert text == value
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", stamp), stamp


async def test_container_choice_and_errors(node: Node) -> None:
    manifest = pod_manifest(
        "two", python_container("a", "print('from a')"), python_container("b", "print('from b')")
    )
    await create(node.core, manifest)
    await wait_phase(node.core, "two", "Succeeded")
    with pytest.raises(ApiError) as err:
        await log_text(node.kubelet, "two")
    assert err.value.code == 400
    assert err.value.message == "a container name must be specified for pod two, choose one of: [a b]"
    assert await log_text(node.kubelet, "two", "b") == "from b\n"
    with pytest.raises(ApiError) as err:
        await log_text(node.kubelet, "two", "c")
    assert err.value.code == 400
    with pytest.raises(ApiError) as err:
        await log_text(node.kubelet, "two", "a", previous=True)
    assert err.value.code == 400
    assert err.value.message == 'previous terminated container "a" in pod "two" not found'
    with pytest.raises(ApiError) as err:
        await log_text(node.kubelet, "nosuchpod")
    assert err.value.code == 404
