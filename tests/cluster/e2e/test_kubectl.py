"""Issue 3's kubectl set over the full cluster: Jobs run by the controllers and the kubelet, driven
by the real kubectl (apply, wait, logs -f, get -o json, get -w, delete) and kubernetes_asyncio."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client as k8s_client

from kaptain.cluster.server import ClusterServer
from tests.cluster.conftest import RunningCluster
from tests.cluster.e2e.manifests import python_job, python_pod, tfjob, to_yaml, upstream_causes
from tests.conftest import free_port

pytestmark = pytest.mark.slow

# Prints 8 lines over 2 s.
PRINTER = "import time\nfor i in range(8):\n    print(f'line {i}', flush=True)\n    time.sleep(0.25)\n"
LINES = [f"line {i}" for i in range(8)]


async def _get_json(cluster: RunningCluster, *args: str) -> Any:
    return json.loads((await cluster.kubectl("get", *args, "-o", "json")).check().stdout)


async def _pods_of(cluster: RunningCluster, job: str) -> list[Any]:
    items: list[Any] = (await _get_json(cluster, "pods", "-l", f"job-name={job}"))["items"]
    return items


async def test_job_apply_logs_wait_get_and_delete(cluster: RunningCluster, tmp_path: Path) -> None:
    manifest = tmp_path / "printer.yaml"
    manifest.write_text(to_yaml(python_job("printer", PRINTER)))
    async with cluster.kubectl_background("get", "pods", "-w", "-l", "job-name=printer") as watch:
        (await cluster.kubectl("apply", "-f", str(manifest))).check()
        started = time.monotonic()
        async with cluster.kubectl_background("logs", "-f", "job/printer") as follower:
            # The follower waits for the pod, streams every line as it is printed and exits by itself
            # when the container terminates.
            await asyncio.wait_for(follower.process.wait(), 30)
            await follower.wait_for_line("line 7", within=5)
            assert follower.process.returncode == 0
            assert follower.lines == LINES
        assert time.monotonic() - started >= 1.5, "the follower returned before the container finished"
        (await cluster.kubectl("wait", "--for=condition=complete", "job/printer", "--timeout=60s")).check()
        await watch.wait_for_line(lambda line: line.startswith("printer-") and "Running" in line)
        await watch.wait_for_line(lambda line: line.startswith("printer-") and "Completed" in line)

    job = await _get_json(cluster, "job", "printer")
    assert job["status"]["succeeded"] == 1 and job["status"].get("failed", 0) == 0
    complete = [c for c in job["status"]["conditions"] if c["type"] == "Complete"]
    assert complete and complete[0]["status"] == "True"
    (pod,) = await _pods_of(cluster, "printer")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    logs = (await cluster.kubectl("logs", pod["metadata"]["name"])).check()
    assert logs.stdout.splitlines() == LINES

    # kubernetes_asyncio sees the same through the typed API.
    async with cluster.api_client() as api:
        read = await k8s_client.BatchV1Api(api).read_namespaced_job_status("printer", "default")
        assert read.status.succeeded == 1
        text = await k8s_client.CoreV1Api(api).read_namespaced_pod_log(
            pod["metadata"]["name"], "default", tail_lines=2
        )
        assert text.splitlines() == LINES[-2:]

    (await cluster.kubectl("delete", "job", "printer")).check()
    deadline = time.monotonic() + 20
    while await _pods_of(cluster, "printer"):
        assert time.monotonic() < deadline, "the Job's pod outlived the Job"
        await asyncio.sleep(0.2)
    gone = await cluster.kubectl("get", "job", "printer")
    assert gone.returncode != 0 and "NotFound" in gone.stderr


async def test_failing_job_fails_after_backoff_limit_retries(cluster: RunningCluster, tmp_path: Path) -> None:
    manifest = tmp_path / "fails.yaml"
    manifest.write_text(
        to_yaml(python_job("fails", "import sys; print('failing'); sys.exit(1)", backoff_limit=2))
    )
    (await cluster.kubectl("apply", "-f", str(manifest))).check()
    (await cluster.kubectl("wait", "--for=condition=failed", "job/fails", "--timeout=60s")).check()
    job = await _get_json(cluster, "job", "fails")
    failed = [c for c in job["status"]["conditions"] if c["type"] == "Failed"]
    assert failed[0]["status"] == "True" and failed[0]["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 3, "backoffLimit 2: the first pod and two retries"
    assert not any(c["type"] == "Complete" for c in job["status"]["conditions"])
    pods = await _pods_of(cluster, "fails")
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    logs = (await cluster.kubectl("logs", pods[0]["metadata"]["name"])).check()
    assert logs.stdout.strip() == "failing"


TF_CONFIG_PRINTER = ["python", "-u", "-c", "import os; print(os.environ['TF_CONFIG'])"]


async def test_tfjob_applied_with_kubectl_runs_its_workers(cluster: RunningCluster, tmp_path: Path) -> None:
    job = tfjob("tf-e2e", workers=2, command=TF_CONFIG_PRINTER)
    assert upstream_causes(job) == []
    manifest = tmp_path / "tfjob.yaml"
    manifest.write_text(to_yaml(job))
    (await cluster.kubectl("apply", "-f", str(manifest))).check()
    (await cluster.kubectl("wait", "--for=condition=Succeeded", "tfjob/tf-e2e", "--timeout=60s")).check()
    listed = (await cluster.kubectl("get", "tfjobs")).check().stdout.splitlines()
    assert listed[0].split()[:2] == ["NAME", "STATE"]
    assert listed[1].split()[:2] == ["tf-e2e", "Succeeded"]
    configs = []
    for index in range(2):
        logs = (await cluster.kubectl("logs", f"tf-e2e-worker-{index}")).check()
        configs.append(json.loads(logs.stdout))
    assert [c["task"] for c in configs] == [{"type": "worker", "index": 0}, {"type": "worker", "index": 1}]
    workers = configs[0]["cluster"]["worker"]
    assert len(set(workers)) == 2 and all(w.startswith("127.0.0.1:") for w in workers)


async def test_cluster_server_without_parts_argument_is_the_full_cluster(tmp_path: Path) -> None:
    """`ClusterServer(data_dir)` runs the default parts: pods are scheduled, run and logged."""
    server = ClusterServer(tmp_path / "cluster", port=free_port())
    await server.start()
    try:
        running = RunningCluster(server, tmp_path / "cluster")
        async with running.api_client() as api:
            core = k8s_client.CoreV1Api(api)
            body: Any = python_pod("hello", "import os; print('hello from', os.environ['HOSTNAME'])")
            await core.create_namespaced_pod("default", body)
            deadline = time.monotonic() + 30
            while (
                phase := (await core.read_namespaced_pod_status("hello", "default")).status.phase
            ) != "Succeeded":
                assert phase in ("Pending", "Running") and time.monotonic() < deadline, phase
                await asyncio.sleep(0.1)
            pod = await core.read_namespaced_pod("hello", "default")
            assert pod.spec.node_name == "kaptain"
            assert (await core.read_namespaced_pod_log("hello", "default")) == "hello from hello\n"
    finally:
        await server.stop()
