"""The embedded cluster process: API server, registry and components on one HTTPS port.

`ClusterServer` opens the core from the data dir, serves the Kubernetes API and the registry on
`https://127.0.0.1:PORT`, writes the client files (kubeconfig, cluster.json, Docker config) and
runs the cluster's components (kubelet, controllers). `serve_forever` is `kaptain cluster serve`.

Unless told otherwise, both run the full cluster: the components of `kaptain.cluster.parts`
(`default_parts`). `ClusterServer(data_dir, parts=None)` runs the API server and the registry alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fcntl
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar

from aiohttp import web

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.apiserver.http import create_app
from kaptain.cluster.apiserver.interface import LogSource
from kaptain.cluster.component import Component
from kaptain.cluster.kubeconfig import (
    ClusterInfo,
    ensure_token,
    read_cluster_info,
    write_client_files,
    write_cluster_info,
)
from kaptain.cluster.registry import RegistryStorage, basic_authorizer, create_registry_app
from kaptain.cluster.tls import ensure_pki

_log = logging.getLogger(__name__)
HOST = "127.0.0.1"
# In-flight requests get this long at shutdown; open watches and log streams are then cancelled.
_SHUTDOWN_GRACE = 2.0


class ClusterBusyError(RuntimeError):
    """Another live cluster process serves the data dir."""


@dataclass(frozen=True)
class ClusterContext:
    """What the components of a cluster are built from.

    Attributes:
        core: The API core (components use it in-process).
        data_dir: The cluster's state directory.
        server: The API server URL (`https://127.0.0.1:PORT`).
        registry: The registry host (`127.0.0.1:PORT`), as used in image references.
        token: The bearer token (for processes that call the API or the registry over HTTP).
        ca_file: The CA certificate clients must trust.
        kubeconfig: The kubeconfig path.
    """

    core: Core
    data_dir: Path
    server: str
    registry: str
    token: str
    ca_file: Path
    kubeconfig: Path


@dataclass(frozen=True)
class ClusterParts:
    """The components a cluster runs besides the API server and the registry.

    Attributes:
        components: Started in order after the server is up, stopped in reverse order.
        log_source: What serves `pods/log` (the kubelet), if any.
    """

    components: Sequence[Component] = ()
    log_source: LogSource | None = None


PartsFactory = Callable[[ClusterContext], ClusterParts]


class _Default(enum.Enum):
    PARTS = "default parts"


DEFAULT_PARTS: Final = _Default.PARTS
"""The `parts` argument meaning `kaptain.cluster.parts.default_parts` (kubelet and controllers)."""
PartsChoice = PartsFactory | None | Literal[_Default.PARTS]


def _factory(parts: PartsChoice) -> PartsFactory | None:
    if parts is DEFAULT_PARTS:
        # Imported here: the parts module builds on this one (ClusterContext, ClusterParts).
        from kaptain.cluster.parts import default_parts

        return default_parts
    return parts


@dataclass
class _Running:
    core: Core
    runner: web.AppRunner
    info: ClusterInfo
    token: str
    components: list[Component] = field(default_factory=list)


class ClusterServer:
    """One embedded cluster serving a data dir.

    Args:
        data_dir: The state directory (created if missing).
        port: The HTTPS port; `None` or 0 picks the port of the previous run if free, else any
            free port.
        parts: Builds the kubelet, controllers, ... once the server's address is known; by default
            `kaptain.cluster.parts.default_parts` (the full cluster); `None` runs the API server
            and registry only.
    """

    def __init__(
        self, data_dir: Path, *, port: int | None = None, parts: PartsChoice = DEFAULT_PARTS
    ) -> None:
        self.data_dir = data_dir
        self._port = port or None
        self._parts = _factory(parts)
        self._running: _Running | None = None
        self._lock: IO[bytes] | None = None

    # -- properties of a started server -----------------------------------------------------

    @property
    def info(self) -> ClusterInfo:
        """What `cluster.json` says about the running server.

        Raises:
            RuntimeError: When the server is not started.
        """
        return self._started().info

    @property
    def core(self) -> Core:
        """The running core (components and tests use it in-process)."""
        return self._started().core

    @property
    def token(self) -> str:
        """The bearer token."""
        return self._started().token

    @property
    def url(self) -> str:
        """The API server URL."""
        return self._started().info.server

    @property
    def port(self) -> int:
        """The port the API server and the registry listen on."""
        port = self._started().info.port
        assert port is not None
        return port

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig written for this server."""
        return Path(self._started().info.kubeconfig)

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients trust."""
        return Path(self._started().info.ca_file)

    def _started(self) -> _Running:
        if self._running is None:
            raise RuntimeError("the cluster server is not running")
        return self._running

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Opens the core, starts serving, writes the client files, starts the components.

        Raises:
            ClusterBusyError: When another live process serves the data dir.
            OSError: When the requested port cannot be bound.
        """
        if self._running is not None:
            return
        if not self.data_dir.exists():
            # Private from the start; an existing directory (maybe shared) keeps its mode, the
            # secrets in it are 0600 either way.
            self.data_dir.mkdir(parents=True, mode=0o700)
        self._acquire_lock()
        try:
            await self._start()
        except BaseException:
            self._release_lock()
            raise

    async def _start(self) -> None:
        previous = read_cluster_info(self.data_dir)
        sock = _bind(self._port, previous.port if previous else None)
        port = int(sock.getsockname()[1])
        server, registry = f"https://{HOST}:{port}", f"{HOST}:{port}"
        try:
            pki = ensure_pki(self.data_dir)
            token = ensure_token(self.data_dir)
            core = await Core.open(self.data_dir)
        except BaseException:
            sock.close()
            raise
        components: list[Component] = []
        runner: web.AppRunner | None = None
        try:
            info = write_client_files(
                self.data_dir,
                server=server,
                registry=registry,
                ca_file=pki.ca_cert,
                token=token,
                pid=os.getpid(),
            )
            context = ClusterContext(
                core, self.data_dir, server, registry, token, pki.ca_cert, Path(info.kubeconfig)
            )
            parts = self._parts(context) if self._parts is not None else ClusterParts()
            registry_app = create_registry_app(
                RegistryStorage(self.data_dir), authorize=basic_authorizer(token)
            )
            app = create_app(core, token=token, log_source=parts.log_source, registry_app=registry_app)
            runner = web.AppRunner(
                app, handler_cancellation=True, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE
            )
            await runner.setup()
            await web.SockSite(runner, sock, ssl_context=pki.server_context()).start()
            for component in parts.components:
                await component.start()
                components.append(component)
        except BaseException:
            await _stop_all(components, runner, core)
            sock.close()
            raise
        self._running = _Running(core, runner, info, token, components)
        _log.info("cluster serving %s (data dir %s)", server, self.data_dir)

    async def stop(self) -> None:
        """Stops the components (reverse order), the HTTP server and the core (idempotent)."""
        running, self._running = self._running, None
        if running is None:
            return
        try:
            await _stop_all(running.components, running.runner, running.core)
            info = running.info
            write_cluster_info(self.data_dir, ClusterInfo(**{**info.to_json(), "pid": None}))
        finally:
            self._release_lock()

    async def __aenter__(self) -> ClusterServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the data dir lock --------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        # An flock, not just the pid in cluster.json: the kernel drops it when the process dies,
        # so a crashed server never blocks the next one, and a reused pid never fakes a live one.
        handle = open(self.data_dir / "cluster.lock", "a+b")  # noqa: SIM115 - held until stop()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            info = read_cluster_info(self.data_dir)
            owner = f" (pid {info.pid}, {info.server})" if info and info.pid else ""
            raise ClusterBusyError(
                f"another kaptain cluster{owner} is serving the data dir {self.data_dir}"
            ) from None
        self._lock = handle

    def _release_lock(self) -> None:
        handle, self._lock = self._lock, None
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


async def _stop_all(components: list[Component], runner: web.AppRunner | None, core: Core) -> None:
    """Stops in reverse start order, continuing past failures so nothing is left running."""
    errors: list[BaseException] = []
    for component in reversed(components):
        try:
            await component.stop()
        except Exception as exc:
            _log.exception("stopping %r failed", component)
            errors.append(exc)
    if runner is not None:
        try:
            await runner.cleanup()
        except Exception as exc:
            _log.exception("stopping the HTTP server failed")
            errors.append(exc)
    await core.close()
    if errors:
        raise errors[0]


def _bind(port: int | None, previous: int | None) -> socket.socket:
    """Binds the listening socket: the requested port, else the previous run's, else any free one."""
    candidates = [port] if port else [p for p in (previous, 0) if p is not None]
    last_error: OSError | None = None
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        sock.listen(512)
        sock.setblocking(False)
        return sock
    assert last_error is not None
    raise last_error


def default_data_dir() -> Path:
    """The data dir when none is given: `$KAPTAIN_HOME`, else `~/.kaptain`."""
    home = os.environ.get("KAPTAIN_HOME")
    return Path(home).expanduser() if home else Path.home() / ".kaptain"


def serve_forever(*, data_dir: str | None, port: int | None, parts: PartsChoice = DEFAULT_PARTS) -> int:
    """Runs the embedded cluster in the foreground until SIGINT or SIGTERM (`kaptain cluster serve`).

    Args:
        data_dir: The state directory; `None` for `default_data_dir()`.
        port: The HTTPS port; `None` for the previous run's port if free, else any free port.
        parts: Builds the components to run besides the API server and registry; by default the
            kubelet and the controllers (`kaptain.cluster.parts.default_parts`).

    Returns:
        The exit status: 0 after a clean stop, 1 when the cluster could not start.
    """
    directory = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return _run(_serve(ClusterServer(directory.resolve(), port=port, parts=parts)))


_T = TypeVar("_T")


def _run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` on uvloop where it is installed, else on asyncio's own loop.

    uvloop's sockets and TLS cut the cost per watch event enough to matter when one create fans
    out to a hundred watchers (``bench/apiserver.py``: about 1.5x the throughput, lower p99).
    """
    try:
        import uvloop  # optional: absent on Windows
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _serve(server: ClusterServer) -> int:
    try:
        await server.start()
    except ClusterBusyError as exc:
        print(f"kaptain cluster: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"kaptain cluster: cannot serve on the requested port: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        # A malformed setting of the parts: $KAPTAIN_IMAGE_MAP, images.yaml, $KAPTAIN_POD_*, $KAPTAIN_NODE_*.
        print(f"kaptain cluster: {exc}", file=sys.stderr)
        return 1
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    info = server.info
    print(f"Kubernetes API server: {info.server}", flush=True)
    print(f"kubeconfig: {info.kubeconfig}", flush=True)
    print(f"image registry: {info.registry}", flush=True)
    try:
        await stopping.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await server.stop()
    print("kaptain cluster stopped", flush=True)
    return 0
