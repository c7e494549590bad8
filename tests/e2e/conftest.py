"""The end-to-end stack: Temporal's dev server, `kaptain cluster serve` and `kaptain worker` as
processes, and the SDK of the test process configured to use them (as a notebook would be)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from kaptain.activities.kubernetes.client import KubeClient, KubeError
from tests.conftest import free_port, venv_bin
from tests.workflows.servers import S3Server, s3_server, temporal_dev_server

_READY_TIMEOUT = 60.0


@dataclass
class Stack:
    """A running stack and the processes it is made of."""

    home: Path
    temporal: WorkflowEnvironment
    queue: str
    kube: KubeClient
    cluster: asyncio.subprocess.Process
    workers: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def worker(self) -> asyncio.subprocess.Process:
        return self.workers[-1]

    def sdk_env(self) -> dict[str, str]:
        """What the SDK (and the worker) are configured with."""
        return {
            "TEMPORAL_ADDRESS": self.temporal.client.service_client.config.target_host,
            "KAPTAIN_HOME": str(self.home),
            "KAPTAIN_TASK_QUEUE": self.queue,
            "KUBECONFIG": str(self.home / "kubeconfig"),
        }

    async def start_worker(self) -> asyncio.subprocess.Process:
        """Start a `kaptain worker` and wait until it polls the task queue."""
        log = (self.home / "logs" / f"worker-{len(self.workers)}.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            venv_bin("kaptain"),
            "worker",
            env={**os.environ, **self.sdk_env()},
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.workers.append(process)
        log_path = self.home / "logs" / f"worker-{len(self.workers) - 1}.log"
        deadline = time.monotonic() + _READY_TIMEOUT
        while "Worker started" not in log_path.read_text():
            if process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker did not start:\n{log_path.read_text()}")
            await asyncio.sleep(0.1)
        return process

    async def kill_worker(self) -> None:
        """SIGKILL the current worker, as a crash would."""
        self.worker.send_signal(signal.SIGKILL)
        await self.worker.wait()

    async def stop(self) -> None:
        for process in [*self.workers, self.cluster]:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _cluster_ready(home: Path, process: asyncio.subprocess.Process) -> KubeClient:
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        if process.returncode is not None:
            raise AssertionError(
                f"kaptain cluster serve exited:\n{(home / 'logs' / 'cluster.log').read_text()}"
            )
        if (home / "kubeconfig").exists() and (home / "cluster.json").exists():
            kube = await KubeClient.connect(kubeconfig=home / "kubeconfig")
            try:
                await kube.list_objects("v1", "Pod")
                return kube
            except KubeError:
                await kube.close()
        if time.monotonic() > deadline:
            raise AssertionError("the embedded cluster did not become ready")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Temporal, the embedded cluster and a worker, with the SDK configured for them."""
    home = tmp_path_factory.mktemp("kaptain-home")
    (home / "logs").mkdir()
    async with temporal_dev_server() as temporal:
        with (home / "logs" / "cluster.log").open("ab") as log:
            cluster = await asyncio.create_subprocess_exec(
                venv_bin("kaptain"),
                "cluster",
                "serve",
                "--data-dir",
                str(home),
                "--port",
                str(free_port()),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "KAPTAIN_POD_FAILURE_BACKOFF": "1"},
            )
        kube = await _cluster_ready(home, cluster)
        running = Stack(home, temporal, f"kaptain-e2e-{uuid.uuid4().hex[:8]}", kube, cluster)
        try:
            with _environment(running.sdk_env()):
                await running.start_worker()
                yield running
        finally:
            await running.stop()
            await kube.close()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """moto's S3 server with bucket ``kaptain``."""
    with s3_server() as server:
        yield server
