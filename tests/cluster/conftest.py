"""Fixtures for tests that talk to the embedded cluster over HTTP, as real clients do.

- `cluster`: a `ClusterServer` started in-process on a free port over a temporary data dir,
  yielded as a `RunningCluster` (url, kubeconfig, token, ca_file, core, data_dir). Override the
  `cluster_parts` fixture in a test module to run components (kubelet, controllers) in it.
- `start_cluster(data_dir, parts=...)`: the same as an async context manager, for tests that
  need several clusters or a restart over the same data dir.
- `RunningCluster.kubectl(...)`: runs the real kubectl against it (bounded in time);
  `RunningCluster.kubectl_background(...)` runs one that keeps going (`get -w`, `logs -f`) and is
  killed on exit; `RunningCluster.api_client()` is a kubernetes_asyncio `ApiClient` built from the
  kubeconfig.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.server import ClusterServer, PartsFactory
from tests.conftest import free_port, venv_bin

KUBECTL_TIMEOUT = 60.0


@dataclass(frozen=True)
class KubectlResult:
    """The outcome of one kubectl run."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> KubectlResult:
        """Returns self when kubectl succeeded; fails the test with its output otherwise."""
        if self.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(self.args)} exited {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
            )
        return self


@dataclass
class BackgroundKubectl:
    """A kubectl that keeps running (a watch, a followed log); its output is collected as it comes.

    Run it with `-v=6` to see its requests on stderr: waiting for the line of its `watch=true`
    request tells a test that the watch is established.
    """

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    err_lines: list[str] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    def start_reading(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            asyncio.create_task(_collect(self.process.stdout, self.lines)),
            asyncio.create_task(_collect(self.process.stderr, self.err_lines)),
        ]

    async def wait_for_line(self, predicate: Any, *, within: float = 20.0, stderr: bool = False) -> str:
        """Waits until an output line (of stderr with `stderr=True`) satisfies `predicate`.

        Args:
            predicate: A callable on the line, or a substring.
            within: Seconds before the test fails.
            stderr: Look at stderr instead of stdout.
        """
        test = predicate if callable(predicate) else (lambda line: predicate in line)
        lines = self.err_lines if stderr else self.lines
        deadline = time.monotonic() + within
        while True:
            finished = self.process.returncode is not None and all(r.done() for r in self._readers)
            # Checked after `finished` is taken, so a last line read just before the exit is seen.
            for line in lines:
                if test(line):
                    return line
            if finished or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"no matching line within {within}s; exit {self.process.returncode}; "
            f"stdout {self.lines!r}; stderr {self.err_lines[-20:]!r}"
        )

    async def stop(self) -> None:
        """Terminates the process (then kills it) and waits for it."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(reader, 5)


async def _collect(stream: asyncio.StreamReader, into: list[str]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            return
        into.append(line.decode().rstrip("\n"))


@dataclass(frozen=True)
class RunningCluster:
    """A started cluster as its clients see it."""

    server: ClusterServer
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def kubeconfig(self) -> Path:
        return self.server.kubeconfig

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    @property
    def core(self) -> Core:
        return self.server.core

    async def kubectl(
        self, *args: str, stdin: str | None = None, within: float = KUBECTL_TIMEOUT
    ) -> KubectlResult:
        """Runs kubectl to completion (killed after `within` seconds); does not check the exit code."""
        return await run_kubectl(self.kubeconfig, self.data_dir, args, stdin=stdin, within=within)

    @asynccontextmanager
    async def kubectl_background(self, *args: str) -> AsyncIterator[BackgroundKubectl]:
        """Runs a long-lived kubectl (e.g. `get -w`); it is terminated when the block exits."""
        process = await asyncio.create_subprocess_exec(
            *_kubectl_argv(self.kubeconfig, self.data_dir, args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_kubectl_env(self.data_dir),
        )
        running = BackgroundKubectl(process)
        running.start_reading()
        try:
            yield running
        finally:
            await running.stop()

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting the cluster's CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @asynccontextmanager
    async def http(self, *, token: str | None = "") -> AsyncIterator[aiohttp.ClientSession]:
        """A raw aiohttp session on the API server; `token=""` sends the cluster's, `None` none."""
        headers = {}
        bearer = self.token if token == "" else token
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        connector = aiohttp.TCPConnector(ssl=self.ssl_context())
        async with aiohttp.ClientSession(
            base_url=self.url, headers=headers, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            yield session

    @asynccontextmanager
    async def api_client(self) -> AsyncIterator[k8s_client.ApiClient]:
        """A kubernetes_asyncio `ApiClient` configured from the cluster's kubeconfig."""
        configuration = k8s_client.Configuration()
        await k8s_config.load_kube_config(
            config_file=str(self.kubeconfig), client_configuration=configuration
        )
        api = k8s_client.ApiClient(configuration=configuration)
        try:
            yield api
        finally:
            await api.close()


def _kubectl_argv(kubeconfig: Path, state_dir: Path, args: tuple[str, ...]) -> list[str]:
    # A cache dir per cluster: kubectl's discovery cache is keyed by host:port, and ports are reused.
    return [
        venv_bin("kubectl"),
        f"--kubeconfig={kubeconfig}",
        f"--cache-dir={state_dir / 'kubectl-cache'}",
        "--request-timeout=30s",
        *args,
    ]


def _kubectl_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    # kubectl keeps state under $HOME (plugins, http cache): keep it out of the real home.
    env["HOME"] = str(state_dir / "kubectl-home")
    return env


async def run_kubectl(
    kubeconfig: Path,
    state_dir: Path,
    args: tuple[str, ...],
    *,
    stdin: str | None = None,
    within: float = KUBECTL_TIMEOUT,
) -> KubectlResult:
    """Runs the real kubectl to completion (killed after `within` seconds); does not check the exit code.

    Args:
        kubeconfig: The cluster's kubeconfig.
        state_dir: Where kubectl's cache and home go (`kubectl-cache`, `kubectl-home`).
        args: kubectl's arguments.
        stdin: Text fed to kubectl's stdin, if any.
        within: Seconds before kubectl is killed and the test fails.

    Returns:
        Its exit code and output.
    """
    process = await asyncio.create_subprocess_exec(
        *_kubectl_argv(kubeconfig, state_dir, args),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_kubectl_env(state_dir),
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), within
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"kubectl {' '.join(args)} did not finish within {within}s") from None
    assert process.returncode is not None
    return KubectlResult(args, process.returncode, out.decode(), err.decode())


@asynccontextmanager
async def start_cluster(
    data_dir: Path, *, port: int | None = None, parts: PartsFactory | None = None
) -> AsyncIterator[RunningCluster]:
    """Starts a `ClusterServer` over `data_dir` and stops it afterwards.

    Args:
        data_dir: The state directory (reuse it to test a restart).
        port: The port; a free one by default.
        parts: Components to run (kubelet, controllers).
    """
    server = ClusterServer(data_dir, port=port or free_port(), parts=parts)
    await server.start()
    try:
        yield RunningCluster(server, data_dir)
    finally:
        await server.stop()


@pytest.fixture
def cluster_parts() -> PartsFactory | None:
    """Components the `cluster` fixture runs; override in a test module to add some."""
    return None


@pytest.fixture
async def cluster(tmp_path: Path, cluster_parts: PartsFactory | None) -> AsyncIterator[RunningCluster]:
    """A running cluster over a fresh data dir."""
    async with start_cluster(tmp_path / "cluster", parts=cluster_parts) as running:
        yield running
