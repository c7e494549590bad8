"""Benchmark: `kaptain dev` start-up time and the digits demo's wall time split by phase.

Starts `kaptain dev` in a temporary data dir on free ports, measures the time until it prints
"Ready." (Temporal answering, the cluster answering /readyz, the worker polling its task queue),
then runs examples/digits/run.py against it and reads the phase times it prints (build, train).
Everything started is stopped at the end.

Usage: .venv/bin/python bench/devup.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TIMEOUT = 600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start_dev(
    data_dir: Path, temporal_port: int, ui_port: int
) -> tuple[asyncio.subprocess.Process, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kaptain.worker",
        "dev",
        "--data-dir",
        str(data_dir),
        "--temporal-port",
        str(temporal_port),
        "--ui-port",
        str(ui_port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), _TIMEOUT)
        if not line:
            raise RuntimeError("kaptain dev exited before it was ready")
        if line.startswith(b"Ready."):
            return process, time.monotonic() - started


async def _stop_dev(process: asyncio.subprocess.Process) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.communicate(), 120)
    return time.monotonic() - started


async def _demo(data_dir: Path, temporal_port: int) -> tuple[float, dict[str, float], str]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "KAPTAIN_HOME": str(data_dir),
        "KUBECONFIG": str(data_dir / "kubeconfig"),
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "run.py",
        cwd=ROOT / "examples" / "digits",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), _TIMEOUT)
    wall = time.monotonic() - started
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"the demo failed:\n{text[-3000:]}")
    phases = {
        name: float(value) for name, value in re.findall(r"^phase (\w+): ([\d.]+) s", text, re.MULTILINE)
    }
    accuracy = re.search(r"^accuracy: (.*)$", text, re.MULTILINE)
    return wall, phases, accuracy.group(1) if accuracy else "?"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="demo runs on the same dev stack (default 1)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kaptain-devup-") as tmp:
        data_dir = Path(tmp) / "home"
        temporal_port, ui_port = _free_port(), _free_port()
        dev, ready = await _start_dev(data_dir, temporal_port, ui_port)
        print(f"kaptain dev start to ready (Temporal, cluster, worker answering): {ready:.2f} s", flush=True)
        try:
            walls: list[float] = []
            for run in range(1, options.runs + 1):
                wall, phases, accuracy = await _demo(data_dir, temporal_port)
                walls.append(wall)
                split = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items())
                print(f"demo run {run}: wall {wall:.2f} s ({split}); accuracy {accuracy}", flush=True)
            if len(walls) > 1:
                print(f"demo wall time median over {len(walls)} runs: {statistics.median(walls):.2f} s")
        finally:
            stopped = await _stop_dev(dev)
            print(f"kaptain dev stop (Ctrl-C to exit): {stopped:.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
