"""Benchmark: the embedded API server under many watchers and a burst of creates.

Starts `kaptain cluster serve` on a free port over a temporary data dir, opens W concurrent watches
of ConfigMaps (raw HTTPS streams, spread over a few client processes so that the client's own
parsing does not dominate), creates N ConfigMaps concurrently, and prints:

- create throughput (objects/s; target >= 300),
- create-to-watch-event latency p50/p99 over every (object, watcher) pair, measured from just
  before the create request is sent to the arrival of the event at the watcher (target p99 <= 50 ms;
  CLOCK_MONOTONIC is shared by all processes on Linux, so the times are comparable),
- the server's peak RSS (psutil samples, and the kernel's high-water mark).

The server is stopped at the end.

Usage: .venv/bin/python bench/apiserver.py [--watchers 100] [--objects 2000] [--concurrency 8]
       [--client-processes N] [--profile server.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

NAMESPACE = "bench"
_START_TIMEOUT = 60.0
_RUN_TIMEOUT = 600.0
_NAME_MARK = b'"name":"cm-'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- watcher child process -----------------------------------------------------------------------


async def _watch_one(
    session: aiohttp.ClientSession, rv: str, expected: int, ready: asyncio.Event, arrivals: dict[str, float]
) -> None:
    params = {"watch": "true", "resourceVersion": rv}
    async with session.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps", params=params) as response:
        response.raise_for_status()
        ready.set()
        while len(arrivals) < expected:
            line = await response.content.readline()
            now = time.monotonic()
            if not line:
                raise RuntimeError("a watch ended early")
            # Cheaper than decoding JSON: the object name is the first "name" of the event.
            start = line.find(_NAME_MARK)
            if start < 0 or not line.startswith(b'{"type":"ADDED"'):
                continue
            start += len(b'"name":"')
            name = line[start : line.index(b'"', start)].decode()
            arrivals.setdefault(name, now)


async def _watch_child(spec: list[Any]) -> None:
    url, token, ca_file, rv, watchers, expected = spec
    context = ssl.create_default_context(cafile=ca_file)
    connector = aiohttp.TCPConnector(ssl=context, limit=0)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=_RUN_TIMEOUT)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector, timeout=timeout) as session:
        readies = [asyncio.Event() for _ in range(watchers)]
        arrivals: list[dict[str, float]] = [{} for _ in range(watchers)]
        tasks = [
            asyncio.create_task(_watch_one(session, rv, expected, readies[i], arrivals[i]))
            for i in range(watchers)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), _START_TIMEOUT)
        print("READY", flush=True)
        await asyncio.gather(*tasks)
    print(json.dumps(arrivals), flush=True)


# -- driver --------------------------------------------------------------------------------------


async def _start_server(data_dir: Path, port: int, profile: str | None) -> asyncio.subprocess.Process:
    # With --profile the server runs under cProfile, which writes its stats when SIGTERM stops it.
    profiling = ["-m", "cProfile", "-o", profile] if profile else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *profiling,
        "-m",
        "kaptain.worker.cli",
        "cluster",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT)
        if not line:
            raise RuntimeError("kaptain cluster serve exited before it was ready")
        if line.startswith(b"image registry:"):
            return process


async def _sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


def _high_water_mark(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def _run(watchers: int, objects: int, concurrency: int, children: int, profile: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="kaptain-bench-") as tmp:
        data_dir = Path(tmp) / "cluster"
        port = _free_port()
        server = await _start_server(data_dir, port, profile)
        child_processes: list[asyncio.subprocess.Process] = []
        try:
            url = f"https://127.0.0.1:{port}"
            token = (data_dir / "token").read_text().strip()
            ca_file = str(data_dir / "pki" / "ca.crt")
            context = ssl.create_default_context(cafile=ca_file)
            connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
            headers = {"Authorization": f"Bearer {token}"}
            timeout = aiohttp.ClientTimeout(total=_RUN_TIMEOUT)
            async with aiohttp.ClientSession(
                url, headers=headers, connector=connector, timeout=timeout
            ) as session:
                async with session.post(
                    "/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}}
                ) as response:
                    response.raise_for_status()
                async with session.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps") as response:
                    rv = (await response.json())["metadata"]["resourceVersion"]

                per_child = [
                    watchers // children + (1 if i < watchers % children else 0) for i in range(children)
                ]
                for count in per_child:
                    child = await asyncio.create_subprocess_exec(
                        sys.executable,
                        __file__,
                        "--watch-child",
                        json.dumps([url, token, ca_file, rv, count, objects]),
                        stdout=asyncio.subprocess.PIPE,
                        limit=1 << 28,
                    )
                    child_processes.append(child)
                for child in child_processes:
                    assert child.stdout is not None
                    line = await asyncio.wait_for(child.stdout.readline(), _START_TIMEOUT)
                    if line.strip() != b"READY":
                        raise RuntimeError(f"a watcher process failed to start: {line!r}")

                stop_sampling = asyncio.Event()
                peak = [0]
                sampler = asyncio.create_task(_sample_rss(server.pid, peak, stop_sampling))
                sent: dict[str, float] = {}
                gate = asyncio.Semaphore(concurrency)

                async def create(index: int) -> None:
                    name = f"cm-{index:05d}"
                    body = {
                        "metadata": {"name": name, "labels": {"bench": "yes"}},
                        "data": {"index": str(index)},
                    }
                    async with gate:
                        sent[name] = time.monotonic()
                        async with session.post(
                            f"/api/v1/namespaces/{NAMESPACE}/configmaps", json=body
                        ) as response:
                            if response.status != 201:
                                raise RuntimeError(
                                    f"create {name}: {response.status} {await response.text()}"
                                )
                            await response.read()

                began = time.monotonic()
                await asyncio.gather(*(create(i) for i in range(objects)))
                create_seconds = time.monotonic() - began

                latencies: list[float] = []
                for child in child_processes:
                    assert child.stdout is not None
                    raw = await asyncio.wait_for(child.stdout.readline(), _RUN_TIMEOUT)
                    await child.wait()
                    for arrivals in json.loads(raw):
                        if len(arrivals) != objects:
                            raise RuntimeError(f"a watcher saw {len(arrivals)} of {objects} objects")
                        latencies.extend((arrivals[name] - sent[name]) * 1000 for name in sent)
                all_seen = time.monotonic() - began
                stop_sampling.set()
                await sampler
                hwm = _high_water_mark(server.pid)
        finally:
            for child in child_processes:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
            if server.returncode is None:
                server.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(server.wait(), 30)
                except TimeoutError:
                    server.kill()
                    await server.wait()

    print(
        f"watchers: {watchers} (in {children} client processes), objects: {objects}, create concurrency: {concurrency}"
    )
    print(
        f"create throughput: {objects / create_seconds:.0f} objects/s ({create_seconds:.2f} s for {objects})"
    )
    print(f"all events delivered to all watchers after: {all_seen:.2f} s")
    print(
        f"create-to-watch-event latency over {len(latencies)} deliveries: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {_percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )
    hwm_text = f", kernel high-water mark {hwm / 2**20:.0f} MiB" if hwm else ""
    print(f"server peak RSS: {peak[0] / 2**20:.0f} MiB (psutil samples){hwm_text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="creates in flight at once (latency includes waiting behind the others in flight)",
    )
    parser.add_argument("--client-processes", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--profile", help="run the server under cProfile and write its stats to this file")
    parser.add_argument("--watch-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.watch_child:
        asyncio.run(_watch_child(json.loads(args.watch_child)))
        return 0
    asyncio.run(_run(args.watchers, args.objects, args.concurrency, args.client_processes, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
