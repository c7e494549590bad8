"""Pod start latency: from create to the first watch event reporting phase Running."""

from __future__ import annotations

import asyncio
import statistics
import time

from tests.cluster.kubelet.conftest import Node
from tests.cluster.kubelet.helpers import create, pod_manifest, pods, python_container, wait_phase

_PODS = 15


async def test_pod_start_latency_p50_is_well_under_a_second(node: Node) -> None:
    running_at: dict[str, float] = {}
    created_at: dict[str, float] = {}
    _, version = await node.core.list(pods(node.core), "default")

    async def watch() -> None:
        async for event in node.core.watch(
            pods(node.core), "default", resource_version=version, timeout_seconds=120
        ):
            obj = event["object"]
            name = obj["metadata"]["name"]
            if (obj.get("status") or {}).get("phase") == "Running" and name not in running_at:
                running_at[name] = time.monotonic()
                if len(running_at) == _PODS:
                    return

    watcher = asyncio.create_task(watch())
    for i in range(_PODS):
        name = f"lat-{i}"
        created_at[name] = time.monotonic()
        await create(node.core, pod_manifest(name, python_container("main", "import time; time.sleep(0.3)")))
        await wait_phase(node.core, name, "Running", "Succeeded")
    await asyncio.wait_for(watcher, 60)
    latencies = sorted(running_at[n] - created_at[n] for n in created_at)
    p50 = statistics.median(latencies)
    print(
        f"\npod start latency (create -> Running) over {_PODS} pods: p50 {p50 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )
    assert p50 < 0.5
