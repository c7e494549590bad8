"""`kaptain cluster serve` as a process: start, use with kubectl, refuse a second owner, stop, restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port, venv_bin

START_WITHIN = 60.0


@dataclass
class Served:
    process: asyncio.subprocess.Process
    lines: list[str]


@asynccontextmanager
async def serve(data_dir: Path, port: int | None) -> AsyncIterator[Served]:
    """Runs `kaptain cluster serve` until it prints its registry line; kills it on exit if still running."""
    port_args = ["--port", str(port)] if port is not None else []
    process = await asyncio.create_subprocess_exec(
        venv_bin("kaptain"),
        "cluster",
        "serve",
        "--data-dir",
        str(data_dir),
        *port_args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_WITHIN):
            while not any(line.startswith("image registry:") for line in lines):
                raw = await process.stdout.readline()
                if not raw:
                    assert process.stderr is not None
                    raise AssertionError(f"serve exited early: {(await process.stderr.read()).decode()}")
                lines.append(raw.decode().rstrip("\n"))
        yield Served(process, lines)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _stop(served: Served) -> tuple[int, str]:
    served.process.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(served.process.communicate(), 30)
    assert served.process.returncode is not None
    return served.process.returncode, out.decode()


async def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        venv_bin("kubectl"),
        f"--kubeconfig={kubeconfig}",
        f"--cache-dir={kubeconfig.parent / 'kubectl-cache'}",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(kubeconfig.parent)},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_serve_stop_and_restart_keep_state(tmp_path: Path) -> None:
    data_dir = tmp_path / "home"
    port = free_port()
    kubeconfig = data_dir / "kubeconfig"
    async with serve(data_dir, port) as served:
        assert served.lines == [
            f"Kubernetes API server: https://127.0.0.1:{port}",
            f"kubeconfig: {kubeconfig}",
            f"image registry: 127.0.0.1:{port}",
        ]
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
        info = json.loads((data_dir / "cluster.json").read_text())
        assert info["pid"] == served.process.pid
        assert info["server"] == f"https://127.0.0.1:{port}"
        assert info["registry"] == f"127.0.0.1:{port}"

        manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {answer: '42'}\n"
        code, out, err = await _kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
        assert code == 0, err
        assert out.strip() == "configmap/kept created"

        second = await asyncio.create_subprocess_exec(
            venv_bin("kaptain"),
            "cluster",
            "serve",
            "--data-dir",
            str(data_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, second_err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1
        assert f"pid {served.process.pid}" in second_err.decode()
        assert "is serving the data dir" in second_err.decode()

        code, out = await _stop(served)
        assert code == 0
        assert "kaptain cluster stopped" in out
    assert json.loads((data_dir / "cluster.json").read_text())["pid"] is None

    # Without --port the restart prefers the previous port, so the kubeconfig stays valid.
    async with serve(data_dir, None) as again:
        assert again.lines[0] == f"Kubernetes API server: https://127.0.0.1:{port}"
        code, out, err = await _kubectl(
            kubeconfig, "get", "configmap", "kept", "-o", "jsonpath={.data.answer}"
        )
        assert code == 0, err
        assert out == "42"
        code, _ = await _stop(again)
        assert code == 0


async def test_serve_refuses_a_busy_port(tmp_path: Path) -> None:
    port = free_port()
    async with serve(tmp_path / "a", port) as served:
        busy = await asyncio.create_subprocess_exec(
            venv_bin("kaptain"),
            "cluster",
            "serve",
            "--data-dir",
            str(tmp_path / "b"),
            "--port",
            str(port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(busy.communicate(), 60)
        assert busy.returncode == 1
        assert "cannot serve on the requested port" in err.decode()
        code, _ = await _stop(served)
        assert code == 0


async def test_a_killed_server_does_not_block_the_next_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "home"
    async with serve(data_dir, free_port()) as served:
        served.process.kill()
        await served.process.wait()
    # cluster.json still names the dead process; the kernel released its lock on the data dir.
    assert json.loads((data_dir / "cluster.json").read_text())["pid"] == served.process.pid
    async with serve(data_dir, None) as again:
        code, _ = await _stop(again)
        assert code == 0
