"""Training benchmark of the embedded cluster: pod start latency and PyTorchJob overhead.

Starts `kaptain cluster serve` as a subprocess on a free port over a temporary data dir, then:

1. Pod start latency, Pending -> Running: pods are created one after the other (each once the previous
   one runs) and, in a second round, all at once. Timestamps are taken by this client on a
   kubernetes_asyncio watch of the pods: the ADDED event (phase Pending) and the first event
   reporting phase Running. (Kubernetes' `creationTimestamp`/`status.startTime` have a resolution of
   one second, too coarse for this.)
2. PyTorchJob overhead: the wall time of a PyTorchJob whose replicas run a trivial script (sleep 1 s,
   print) from the create call until a watch sees its Succeeded condition, against the wall time of
   the same script run directly as the same number of local processes. Printed with a breakdown of
   where the job's time went (controller, kubelet, processes, status).

Then stops the cluster (SIGTERM) and checks that none of its processes is left.

Run: `.venv/bin/python bench/training.py [--pods 20] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio import watch as k8s_watch

Object = dict[str, Any]
NS = "default"
START_TIMEOUT = 60.0
PHASE_TIMEOUT = 60.0
TRIVIAL = "import os, time\ntime.sleep(1)\nprint('replica', os.environ.get('RANK'), 'done', flush=True)\n"
TARGET_ADDED_SECONDS = 2.0


# -- the cluster -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A `kaptain cluster serve` subprocess."""

    data_dir: Path
    process: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def descendants(self) -> list[int]:
        try:
            return [p.pid for p in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.Error:
            return []


async def _read(process: asyncio.subprocess.Process, into: list[str]) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        into.append(line.decode(errors="replace").rstrip("\n"))


@contextlib.asynccontextmanager
async def serve(data_dir: Path) -> AsyncIterator[Cluster]:
    """Runs `kaptain cluster serve` until the block exits; then checks that no process of it remains."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kaptain.worker",
        "cluster",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(_free_port()),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    cluster = Cluster(data_dir, process)
    reader = asyncio.create_task(_read(process, cluster.output))
    seen: list[int] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not any(line.startswith("Kubernetes API server:") for line in cluster.output):
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("kaptain cluster serve did not start:\n" + "\n".join(cluster.output))
            await asyncio.sleep(0.05)
        yield cluster
        seen = cluster.descendants()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        await asyncio.wait_for(reader, 10)
    left = [pid for pid in seen if _alive(pid)]
    if process.returncode != 0 or left:
        raise RuntimeError(f"unclean stop: exit {process.returncode}, processes left {left}")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@contextlib.asynccontextmanager
async def api_client(cluster: Cluster) -> AsyncIterator[k8s_client.ApiClient]:
    configuration = k8s_client.Configuration()
    await k8s_config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=configuration)
    api = k8s_client.ApiClient(configuration=configuration)
    try:
        yield api
    finally:
        await api.close()


# -- manifests -------------------------------------------------------------------------------------


def pod_manifest(name: str, code: str, labels: dict[str, str]) -> Any:
    """A pod running `python -c code` (typed Any: kubernetes_asyncio accepts dicts for its models)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11", "command": ["python", "-u", "-c", code]}],
        },
    }


def pytorchjob_manifest(name: str, replicas: int, code: str) -> Object:
    """A PyTorchJob with one Master and `replicas - 1` Workers running `python -c code`."""
    container = {"name": "pytorch", "image": "python:3.11", "command": ["python", "-u", "-c", code]}

    def spec(count: int) -> Object:
        return {
            "replicas": count,
            "restartPolicy": "OnFailure",
            "template": {"spec": {"containers": [dict(container)]}},
        }

    specs = {"Master": spec(1)}
    if replicas > 1:
        specs["Worker"] = spec(replicas - 1)
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name},
        "spec": {"runPolicy": {"cleanPodPolicy": "None"}, "pytorchReplicaSpecs": specs},
    }


# -- watching --------------------------------------------------------------------------------------


@dataclass
class PodTimes:
    added: float | None = None
    running: float | None = None
    finished: float | None = None


class PodWatch:
    """Records, per pod name, when this client saw it ADDED, Running and terminated."""

    def __init__(self, api: k8s_client.ApiClient, selector: str) -> None:
        self._core = k8s_client.CoreV1Api(api)
        self._selector = selector
        self.times: dict[str, PodTimes] = {}
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        listed = await self._core.list_namespaced_pod(NS, label_selector=self._selector)
        self._task = asyncio.create_task(self._run(listed.metadata.resource_version))

    async def _run(self, version: str) -> None:
        async with k8s_watch.Watch() as watch:
            async for event in watch.stream(
                self._core.list_namespaced_pod,
                NS,
                label_selector=self._selector,
                resource_version=version,
                timeout_seconds=600,
            ):
                now = time.monotonic()
                pod = event["raw_object"]
                times = self.times.setdefault(pod["metadata"]["name"], PodTimes())
                phase = (pod.get("status") or {}).get("phase")
                if times.added is None:
                    times.added = now
                if phase == "Running" and times.running is None:
                    times.running = now
                if phase in ("Succeeded", "Failed") and times.finished is None:
                    times.finished = now
                    times.running = times.running or now
                self._changed.set()

    async def wait(self, names: list[str], what: str) -> None:
        deadline = time.monotonic() + PHASE_TIMEOUT
        while not all(getattr(self.times.get(n) or PodTimes(), what) is not None for n in names):
            if time.monotonic() > deadline:
                raise RuntimeError(f"pods {names} not {what} within {PHASE_TIMEOUT}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- 1. pod start latency ----------------------------------------------------------------------------


async def pod_start_latency(api: k8s_client.ApiClient, count: int) -> None:
    core = k8s_client.CoreV1Api(api)
    code = "import time; time.sleep(0.5)"
    for mode in ("sequential", "burst"):
        label = f"latency-{mode}"
        watch = PodWatch(api, f"bench={label}")
        await watch.start()
        names = [f"{label}-{i}" for i in range(count)]
        created: dict[str, float] = {}
        try:
            if mode == "sequential":
                for name in names:
                    created[name] = time.monotonic()
                    await core.create_namespaced_pod(NS, pod_manifest(name, code, {"bench": label}))
                    await watch.wait([name], "running")
            else:
                for name in names:
                    created[name] = time.monotonic()
                    await core.create_namespaced_pod(NS, pod_manifest(name, code, {"bench": label}))
                await watch.wait(names, "running")
            await watch.wait(names, "finished")
        finally:
            await watch.stop()
        pending_to_running = [watch.times[n].running - watch.times[n].added for n in names]  # type: ignore[operator]
        create_to_running = [watch.times[n].running - created[n] for n in names]  # type: ignore[operator]
        print(
            f"pod start latency, {mode} ({count} pods): Pending->Running p50 {_ms(statistics.median(pending_to_running))}, "
            f"p90 {_ms(_percentile(pending_to_running, 0.9))}, max {_ms(max(pending_to_running))}; "
            f"create->Running p50 {_ms(statistics.median(create_to_running))}, "
            f"p90 {_ms(_percentile(create_to_running, 0.9))}",
            flush=True,
        )
        await core.delete_collection_namespaced_pod(NS, label_selector=f"bench={label}")


# -- 2. PyTorchJob overhead --------------------------------------------------------------------------


async def run_directly(replicas: int) -> float:
    """Runs the trivial script as `replicas` local processes at once; returns the wall time."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = time.monotonic()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            "-c",
            TRIVIAL,
            env={**env, "RANK": str(rank)},
            stdout=asyncio.subprocess.DEVNULL,
        )
        for rank in range(replicas)
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), 60)
    if any(codes):
        raise RuntimeError(f"the script failed directly: exit codes {codes}")
    return time.monotonic() - started


async def _job_conditions(custom: k8s_client.CustomObjectsApi, name: str, seen: dict[str, float]) -> None:
    async with k8s_watch.Watch() as watch:
        async for event in watch.stream(
            custom.list_namespaced_custom_object,
            "kubeflow.org",
            "v1",
            NS,
            "pytorchjobs",
            field_selector=f"metadata.name={name}",
            timeout_seconds=120,
        ):
            now = time.monotonic()
            for condition in (event["object"].get("status") or {}).get("conditions") or []:
                if condition.get("status") == "True":
                    seen.setdefault(condition["type"], now)
            if "Succeeded" in seen or "Failed" in seen:
                return


async def run_pytorchjob(api: k8s_client.ApiClient, name: str, replicas: int) -> tuple[float, str]:
    """Runs the trivial script as a PyTorchJob; returns the wall time and a breakdown."""
    custom = k8s_client.CustomObjectsApi(api)
    pods = PodWatch(api, f"training.kubeflow.org/job-name={name}")
    await pods.start()
    conditions: dict[str, float] = {}
    watcher = asyncio.create_task(_job_conditions(custom, name, conditions))
    await asyncio.sleep(0.05)  # the watch request is in flight before the create
    try:
        started = time.monotonic()
        await custom.create_namespaced_custom_object(
            "kubeflow.org", "v1", NS, "pytorchjobs", pytorchjob_manifest(name, replicas, TRIVIAL)
        )
        await asyncio.wait_for(watcher, 60)
        wall = time.monotonic() - started
        if "Succeeded" not in conditions:
            raise RuntimeError(f"PyTorchJob {name} did not succeed: {conditions}")
        times = list(pods.times.values())
        added = max(t.added for t in times if t.added is not None) - started
        running = max(t.running for t in times if t.running is not None) - started
        finished = max(t.finished for t in times if t.finished is not None) - started
        breakdown = (
            f"last pod created +{_ms(added)}, all Running +{_ms(running)}, "
            f"all terminated +{_ms(finished)}, Succeeded +{_ms(conditions['Succeeded'] - started)}"
        )
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await pods.stop()
    await custom.delete_namespaced_custom_object("kubeflow.org", "v1", NS, "pytorchjobs", name)
    return wall, breakdown


async def pytorchjob_overhead(api: k8s_client.ApiClient, runs: int) -> None:
    for replicas in (2, 3):
        shape = "Master + 1 Worker" if replicas == 2 else f"Master + {replicas - 1} Workers"
        direct = [await run_directly(replicas) for _ in range(runs)]
        jobs: list[float] = []
        for run in range(runs):
            wall, breakdown = await run_pytorchjob(api, f"overhead-{replicas}-{run}", replicas)
            jobs.append(wall)
            print(f"  PyTorchJob {shape} run {run + 1}: {wall:.2f} s ({breakdown})", flush=True)
        job, plain = statistics.median(jobs), statistics.median(direct)
        added = job - plain
        verdict = "met" if added < TARGET_ADDED_SECONDS else "MISSED"
        print(
            f"PyTorchJob overhead ({shape}, trivial script: sleep 1 s + print; median of {runs}): "
            f"PyTorchJob {job:.2f} s vs direct processes {plain:.2f} s -> +{added:.2f} s added wall time, "
            f"ratio {job / plain:.2f}x (target < {TARGET_ADDED_SECONDS:.0f} s added: {verdict})",
            flush=True,
        )


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pods", type=int, default=20, help="pods per latency round (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs per overhead measurement (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kaptain-bench-") as tmp:
        async with serve(Path(tmp) / "cluster") as cluster, api_client(cluster) as api:
            print(
                f"cluster: kaptain cluster serve (pid {cluster.process.pid}), cpus {os.cpu_count()}",
                flush=True,
            )
            await pod_start_latency(api, max(10, args.pods))
            await pytorchjob_overhead(api, max(1, args.runs))
    print("cluster stopped; no process left", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
