"""A kubelet that stops or crashes: no process survives it, and the next one settles its pods."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import psutil

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.images.store import ImageStore
from kaptain.cluster.kubelet import Kubelet
from tests.cluster.kubelet.helpers import (
    container_status,
    create,
    first_line,
    pod_manifest,
    processes_with_marker,
    python_container,
    terminated,
    wait_phase,
    wait_pids_gone,
    wait_pod,
)

_SLEEPER = "import os, subprocess; child = subprocess.Popen(['sleep', '1000']); print(os.getpid(), child.pid, flush=True); child.wait()"


async def test_stop_leaves_no_process_and_next_kubelet_settles_pods(core: Core, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    images = ImageStore(data_dir)
    first = Kubelet(core, data_dir=data_dir, images=images, stop_grace=1.0)
    await first.start()
    try:
        await create(core, pod_manifest("once", python_container("main", _SLEEPER)))
        await create(core, pod_manifest("forever", python_container("main", _SLEEPER), restart="Always"))
        pids: list[int] = []
        for name in ("once", "forever"):
            await wait_phase(core, name, "Running")
            pids += [int(p) for p in (await first_line(first, name)).split()]
        assert len(processes_with_marker(first.process_marker)) >= 4
    finally:
        await first.stop()
    assert wait_pids_gone(pids) == []
    assert processes_with_marker(first.process_marker) == []

    second = Kubelet(core, data_dir=data_dir, images=images, stop_grace=1.0)
    await second.start()
    try:
        once = await wait_phase(core, "once", "Failed")
        term = terminated(once)
        assert term["reason"] == "ContainerStatusUnknown" and term["exitCode"] == 137
        assert term["message"] == "The container could not be located when the pod was terminated"
        forever = await wait_pod(
            core,
            "forever",
            lambda p: container_status(p)["restartCount"] == 1 and "running" in container_status(p)["state"],
        )
        assert forever["status"]["phase"] == "Running"
        assert container_status(forever)["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    finally:
        await second.stop()
    assert processes_with_marker(second.process_marker) == []


_CRASHING = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from kaptain.cluster.apiserver.core import Core
    from kaptain.cluster.images.store import ImageStore
    from kaptain.cluster.kubelet import Kubelet

    SLEEPER = sys.argv[2]

    async def main():
        data_dir = Path(sys.argv[1])
        core = await Core.open(data_dir)
        kubelet = Kubelet(core, data_dir=data_dir, images=ImageStore(data_dir))
        await kubelet.start()
        pods = core.registry.get("", "v1", "pods")
        spec = {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": "python:3.11", "command": ["python", "-c", SLEEPER]}]}
        await core.create(pods, "default", {"metadata": {"name": "orphan"}, "spec": spec})
        for _ in range(500):
            pod = await core.get(pods, "default", "orphan")
            if pod.get("status", {}).get("phase") == "Running":
                break
            await asyncio.sleep(0.02)
        for _ in range(500):
            text = b"".join([c async for c in kubelet.read_log("default", "orphan", None)])
            if text.endswith(b"\\n"):
                break
            await asyncio.sleep(0.02)
        print(text.decode().strip(), kubelet.process_marker, flush=True)
        await asyncio.sleep(1000)

    asyncio.run(main())
    """
)


async def test_crashed_kubelet_leftovers_are_killed_and_pod_failed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crashing = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING, str(data_dir), _SLEEPER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert crashing.stdout is not None
        line = (await asyncio.wait_for(crashing.stdout.readline(), 60)).decode()
        leader, grandchild, marker = line.split()
    finally:
        crashing.kill()
        await asyncio.wait_for(crashing.wait(), 10)
    # PDEATHSIG took the container's main process; its child is still there.
    assert wait_pids_gone([int(leader)]) == []
    assert psutil.pid_exists(int(grandchild))

    core = await Core.open(data_dir)
    kubelet = Kubelet(core, data_dir=data_dir, images=ImageStore(data_dir))
    try:
        await kubelet.start()
        assert kubelet.process_marker == marker
        assert wait_pids_gone([int(grandchild)]) == []
        pod = await wait_phase(core, "orphan", "Failed")
        assert terminated(pod)["reason"] == "ContainerStatusUnknown"
    finally:
        await kubelet.stop()
        await core.close()
    assert processes_with_marker(marker) == []
