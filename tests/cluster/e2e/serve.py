"""`kaptain cluster serve` as a subprocess, driven as a user would: kubectl over its kubeconfig."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster.conftest import KUBECTL_TIMEOUT, KubectlResult, run_kubectl
from tests.conftest import venv_bin

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# Test settings: a failed Job pod is replaced after 0.2 s instead of Kubernetes' 10 s.
SERVE_ENV = {"KAPTAIN_POD_FAILURE_BACKOFF": "0.2", "KAPTAIN_POD_STOP_GRACE": "1"}


@dataclass
class ServeProcess:
    """One `kaptain cluster serve --data-dir D --port P` process."""

    data_dir: Path
    port: int
    process: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                return
            self.output.append(line.decode(errors="replace").rstrip("\n"))

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if any(line.startswith("Kubernetes API server:") for line in self.output):
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"kaptain cluster serve did not start (exit {self.process.returncode}):\n"
            + "\n".join(self.output)
        )

    async def kubectl(
        self, *args: str, stdin: str | None = None, within: float = KUBECTL_TIMEOUT
    ) -> KubectlResult:
        """Runs the real kubectl against this cluster (killed after `within` seconds)."""
        return await run_kubectl(self.kubeconfig, self.data_dir.parent, args, stdin=stdin, within=within)

    async def terminate(self) -> int:
        """Sends SIGTERM and waits for a clean exit; returns the exit status."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
                raise AssertionError(
                    f"kaptain cluster serve ignored SIGTERM for {STOP_TIMEOUT}s:\n" + "\n".join(self.output)
                ) from None
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reader, 5)
        assert self.process.returncode is not None
        return self.process.returncode


@asynccontextmanager
async def serve(
    data_dir: Path, port: int, *, env: dict[str, str] | None = None
) -> AsyncIterator[ServeProcess]:
    """Runs `kaptain cluster serve` until the block exits (SIGTERM, then SIGKILL if it hangs)."""
    process = await asyncio.create_subprocess_exec(
        venv_bin("kaptain"),
        "cluster",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **SERVE_ENV, **(env or {})},
    )
    running = ServeProcess(data_dir, port, process)
    running._reader = asyncio.create_task(running._read())
    try:
        await running._wait_ready()
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        running._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running._reader
