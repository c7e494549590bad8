"""Benchmark of `Model.build` / `Model.train` on the local stack: what Kaptain adds around the work.

Starts the stack of `kaptain dev` (Temporal dev server, `kaptain cluster serve`, `kaptain worker`,
each a process) in a temporary data dir on free ports, builds a small PyTorch model once, then:

1. Skipped build: `await model.build()` of the unchanged model, ``--runs`` times (target ≤ 300 ms).
2. Training, ``--runs`` times: `await model.train(...)` of a PyTorchJob with 2 workers whose
   replicas sleep ``--sleep`` seconds. This process watches the job and its pods (kubernetes_asyncio
   watches on the cluster) and timestamps, on its own monotonic clock:

   * the first event showing one of the run's pods Running and the last one showing a pod
     Succeeded: the pods' own run time;
   * the event showing the job's ``Succeeded`` condition (the status the operator wrote).

   It prints the completion latency (Succeeded written → `train()` returns; target p50 ≤ 100 ms,
   p99 ≤ 500 ms; the Kubeflow SDKs poll every 10-15 s) and the added wall time of `train()` over
   the pods' run time (target ≤ 2 s): build check, Secrets, job creation, pod start, cleanup.

Run: `.venv/bin/python bench/lifecycle.py [--runs 10] [--sleep 1.0]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaptain.activities.kubernetes.client import KubeClient, KubeError
from kaptain.config import Config
from kaptain.model.models import Model
from kaptain.worker.dev import DevStack

Obj = dict[str, Any]

TRAINER = textwrap.dedent(
    """
    import argparse, json, os, time
    from kaptain.platform.metadata_util import MetadataUtil
    from kaptain.platform.model_export_util import ModelExportUtil

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--sleep", type=float, default=1.0)
    args, _ = parser.parse_known_args()
    time.sleep(args.sleep)
    MetadataUtil.record_metrics({"accuracy": 0.9})
    if os.environ.get("RANK", "0") == "0":
        with open("model.json", "w") as handle:
            json.dump({"epochs": args.epochs}, handle)
        ModelExportUtil().upload_model("model.json")
    """
).lstrip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Timeline:
    """What this process saw of one training run, on its monotonic clock."""

    pods_running: float | None = None
    pods_done: dict[str, float] = field(default_factory=dict)
    succeeded: float | None = None


async def _follow(
    kube: KubeClient, kind: tuple[str, str], selector: str, on_event: Callable[[Obj], None]
) -> None:
    api_version, name = kind
    while True:
        listed = await kube.list_objects(api_version, name, label_selector=selector)
        version = listed["metadata"]["resourceVersion"]
        with contextlib.suppress(KubeError):
            async for event in kube.watch(
                api_version, name, resource_version=version, label_selector=selector, timeout_seconds=300
            ):
                if event.type != "BOOKMARK":
                    on_event(event.object)


async def _train_once(model: Model, kube: KubeClient, sleep: float) -> tuple[float, float, float]:
    """One train() call: (wall time, pods' run time, completion latency), in seconds."""
    timeline = Timeline()

    def on_pod(pod: Obj) -> None:
        if pod["metadata"]["name"] in known:
            return
        phase = (pod.get("status") or {}).get("phase")
        now = time.monotonic()
        if phase == "Running" and timeline.pods_running is None:
            timeline.pods_running = now
        if phase in ("Succeeded", "Failed"):
            timeline.pods_done.setdefault(str(pod["metadata"]["name"]), now)

    def on_job(job: Obj) -> None:
        conditions = (job.get("status") or {}).get("conditions") or []
        if timeline.succeeded is None and any(
            c["type"] == "Succeeded" and c["status"] == "True" for c in conditions
        ):
            timeline.succeeded = time.monotonic()

    # Only this call's objects: the model id label plus the revision the run will get is unknown
    # before the call, so the watches select the action and the timeline only keeps new objects.
    selector = "kaptain.io/model-id=bench.lifecycle,kaptain.io/action=train"
    known = {
        item["metadata"]["name"]
        for item in (await kube.list_objects("v1", "Pod", label_selector=selector))["items"]
    }
    watches = [
        asyncio.create_task(_follow(kube, ("v1", "Pod"), selector, on_pod)),
        asyncio.create_task(_follow(kube, ("kubeflow.org/v1", "PyTorchJob"), selector, on_job)),
    ]
    await asyncio.sleep(0.3)
    try:
        started = time.monotonic()
        ok = await model.train({"--epochs": 1}, args={"--sleep": sleep}, workers=2)
        returned = time.monotonic()
    finally:
        for task in watches:
            task.cancel()
        for task in watches:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if not ok or timeline.succeeded is None or timeline.pods_running is None or not timeline.pods_done:
        raise RuntimeError(f"the training run did not succeed as expected: ok={ok} {timeline}")
    pods = max(timeline.pods_done.values()) - timeline.pods_running
    return returned - started, pods, returned - timeline.succeeded


def _percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (with 10 values, p95 and p99 are the largest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def _row(name: str, values: list[float], unit: str = "ms", target: str = "") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    cells = [_percentile(values, q) * scale for q in (50, 95, 99)] + [
        max(values) * scale,
        statistics.mean(values) * scale,
    ]
    return f"{name:<44} " + " ".join(f"{c:>9.1f}" for c in cells) + f"  {unit:<3} {target}"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="measured runs of each kind (default 10)")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each training replica sleeps")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kaptain-log").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="kaptain-bench-") as tmp:
        home = Path(tmp) / "home"
        stack = DevStack(
            data_dir=home, temporal_port=_free_port(), ui_port=_free_port(), cluster_port=_free_port()
        )
        print("Starting Temporal, the embedded cluster and a worker ...", flush=True)
        endpoints = await stack.start()
        os.environ.update({"TEMPORAL_ADDRESS": endpoints.temporal_address, "KAPTAIN_HOME": str(home)})
        kube = await KubeClient.connect(kubeconfig=endpoints.kubeconfig)
        try:
            project = Path(tmp) / "project"
            project.mkdir()
            (project / "trainer.py").write_text(TRAINER)
            config = Config.default()
            config.base_dir = str(project)
            model = Model(
                id="bench/lifecycle",
                name="bench",
                description="lifecycle benchmark",
                version="1",
                framework="pytorch",
                framework_version="2.13.0",
                main_file="trainer.py",
                image_name="kaptain/bench:v1",
                base_image="python:3.11",
                config=config,
            )
            started = time.monotonic()
            assert await model.build()
            print(f"First build (real image build): {time.monotonic() - started:.2f} s", flush=True)

            skipped: list[float] = []
            for _ in range(options.runs):
                started = time.monotonic()
                assert await model.build()
                skipped.append(time.monotonic() - started)

            # One unmeasured run warms the worker's and cluster's caches.
            await _train_once(model, kube, options.sleep)
            walls: list[float] = []
            pods: list[float] = []
            latencies: list[float] = []
            for index in range(options.runs):
                wall, pod_time, latency = await _train_once(model, kube, options.sleep)
                walls.append(wall)
                pods.append(pod_time)
                latencies.append(latency)
                print(
                    f"  run {index + 1:>2}: train() {wall:6.3f} s, pods {pod_time:6.3f} s, completion {latency * 1000:6.1f} ms",
                    flush=True,
                )
        finally:
            await kube.close()
            await stack.stop()

    added = [w - p for w, p in zip(walls, pods, strict=True)]
    print()
    print(f"Over {options.runs} runs (PyTorchJob, 2 workers, replicas sleep {options.sleep} s):")
    print(f"{'':<44} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9} {'mean':>9}")
    print(
        _row(
            "completion latency (Succeeded -> return)", latencies, "ms", "target p50 <= 100 ms, p99 <= 500 ms"
        )
    )
    print(_row("added wall time of train() over pods' run", added, "s", "target <= 2 s"))
    print(_row("train() wall time", walls, "s"))
    print(_row("pods' own run time", pods, "s"))
    print(_row("skipped build()", skipped, "ms", "target <= 300 ms"))
    met = (
        _percentile(latencies, 50) <= 0.1
        and _percentile(latencies, 99) <= 0.5
        and _percentile(added, 50) <= 2.0
        and _percentile(skipped, 50) <= 0.3
    )
    print("targets met" if met else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
