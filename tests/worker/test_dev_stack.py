"""`kaptain dev`: starts Temporal, the embedded cluster and a worker; Ctrl-C stops all of them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow

_READY_TIMEOUT = 120.0


async def _start_dev(data_dir: Path, temporal_port: int, ui_port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
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
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _read_until_ready(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(process.stdout.readline(), deadline - time.monotonic())
        if not line:
            break
        seen.append(line.decode())
        if line.startswith(b"Ready."):
            return "".join(seen)
    raise AssertionError("kaptain dev did not become ready:\n" + "".join(seen))


def _tree(pid: int) -> set[int]:
    try:
        root = psutil.Process(pid)
        return {pid} | {child.pid for child in root.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


async def test_dev_starts_reports_second_instance_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "home"
    temporal_port, ui_port = free_port(), free_port()
    dev = await _start_dev(data_dir, temporal_port, ui_port)
    try:
        banner = await _read_until_ready(dev)
        assert f"127.0.0.1:{temporal_port}" in banner
        assert f"http://127.0.0.1:{ui_port}" in banner
        assert str(data_dir / "kubeconfig") in banner

        state = json.loads((data_dir / "dev.json").read_text())
        children = state["children"]
        assert set(children) == {"temporal", "cluster", "worker"}
        pids = _tree(dev.pid)
        assert set(children.values()) <= pids

        # The Web UI answers and the cluster speaks Kubernetes to kubectl.
        import aiohttp

        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{ui_port}/") as response,
        ):
            assert response.status == 200
        kubectl = Path(sys.executable).parent / "kubectl"
        out = await asyncio.create_subprocess_exec(
            str(kubectl),
            "--kubeconfig",
            str(data_dir / "kubeconfig"),
            "get",
            "namespaces",
            "-o",
            "name",
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await asyncio.wait_for(out.communicate(), 30)
        assert b"namespace/default" in stdout

        # A second `kaptain dev` on the same data dir says what is running and exits 1.
        second = await _start_dev(data_dir, free_port(), free_port())
        output, _ = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1
        assert b"already running" in output
        assert str(dev.pid).encode() in output
    finally:
        if dev.returncode is None:
            dev.send_signal(signal.SIGINT)
        remaining, _ = await asyncio.wait_for(dev.communicate(), 60)
    assert dev.returncode == 0, remaining.decode()
    assert b"Stopped." in remaining
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = await asyncio.to_thread(psutil.wait_procs, procs, 10)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"processes left behind: {alive}"
    assert not (data_dir / "dev.json").exists()
