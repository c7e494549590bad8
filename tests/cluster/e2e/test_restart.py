"""State survives a restart of `kaptain cluster serve`; a pod running across it is reported Failed and
none of its processes outlives the first server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.cluster.e2e.manifests import python_job, python_pod, to_yaml
from tests.cluster.e2e.serve import ServeProcess, serve
from tests.cluster.kubelet.helpers import alive_pids
from tests.conftest import free_port

pytestmark = pytest.mark.slow

# The container and a child it starts print their pids, then sleep until killed.
SLEEPER = (
    "import os, subprocess\n"
    "child = subprocess.Popen(['sleep', '1000'])\n"
    "print(os.getpid(), child.pid, flush=True)\n"
    "child.wait()\n"
)
SETTINGS = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"lr": "0.01"}}


async def _wait_gone(pids: list[int], within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    while True:
        alive = alive_pids(pids)
        if not alive or time.monotonic() >= deadline:
            return alive
        await asyncio.sleep(0.05)


def _descendants(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


async def _get(server: ServeProcess, *args: str) -> Any:
    return json.loads((await server.kubectl("get", *args, "-o", "json")).check().stdout)


async def test_state_survives_a_restart_and_running_pods_fail(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "cluster", free_port()
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(
        to_yaml(SETTINGS, python_job("done", "print('done')"), python_pod("sleeper", SLEEPER))
    )

    async with serve(data_dir, port) as first:
        (await first.kubectl("apply", "-f", str(manifest))).check()
        (await first.kubectl("wait", "--for=condition=complete", "job/done", "--timeout=60s")).check()
        (
            await first.kubectl(
                "wait", "--for=jsonpath={.status.phase}=Running", "pod/sleeper", "--timeout=30s"
            )
        ).check()
        deadline = time.monotonic() + 20
        while not (logs := (await first.kubectl("logs", "sleeper")).check().stdout.split()):
            assert time.monotonic() < deadline, "the sleeper never printed its pids"
            await asyncio.sleep(0.1)
        pids = [int(p) for p in logs]
        assert set(pids) <= set(_descendants(first.pid)), "the pod's processes are the server's children"
        started = _descendants(first.pid)
        uid = (await _get(first, "pod", "sleeper"))["metadata"]["uid"]
        assert await first.terminate() == 0
        assert "kaptain cluster stopped" in first.output
    assert await _wait_gone(started) == [], "processes outlived the cluster server"

    async with serve(data_dir, port) as second:
        settings = await _get(second, "configmap", "settings")
        assert settings["data"] == {"lr": "0.01"}
        job = await _get(second, "job", "done")
        assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
        assert job["status"]["succeeded"] == 1
        (
            await second.kubectl(
                "wait", "--for=jsonpath={.status.phase}=Failed", "pod/sleeper", "--timeout=30s"
            )
        ).check()
        pod = await _get(second, "pod", "sleeper")
        assert pod["metadata"]["uid"] == uid, "the same pod object, not a new one"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["reason"] == "ContainerStatusUnknown"
        assert alive_pids(pids) == [], "the restarted cluster runs no process of the old pod"
        # The old pod's log is still served, as a kubelet keeps a terminated container's log.
        assert (await second.kubectl("logs", "sleeper")).check().stdout.split() == [str(p) for p in pids]
        # The restarted cluster runs new work.
        (await second.kubectl("apply", "-f", "-", stdin=to_yaml(python_job("again", "print(1)")))).check()
        (await second.kubectl("wait", "--for=condition=complete", "job/again", "--timeout=60s")).check()
        started = _descendants(second.pid)
        assert await second.terminate() == 0
    assert await _wait_gone(started) == []
