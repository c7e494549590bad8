"""Container processes: spawned in their own process group, never orphaned.

Each container is a local process started with `start_new_session` (so it leads a new process
group that can be signalled as a whole) and with `PR_SET_PDEATHSIG=SIGKILL`, so that the direct
child dies with the cluster process even if that one is killed with SIGKILL. Processes further
down cannot be covered by the kernel that way; `GroupRegistry` records every group under
`<data-dir>/kubelet/groups/` and every container carries a marker variable, so that the next
kubelet on the same data dir kills what a crashed one left behind.

Like Docker, a container ends when its main process ends: the rest of its group and the
descendants seen while it ran are killed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

_log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# The variable every container process inherits; its value identifies the kubelet's data dir.
MARKER_VARIABLE = "KAPTAIN_KUBELET_NODE"
_LIBC = ctypes.CDLL(None, use_errno=True)


def exit_code(returncode: int) -> int:
    """Converts a `Popen.returncode` into the exit code a container runtime reports (128+signal).

    Args:
        returncode: The return code; negative when the process died from a signal.

    Returns:
        The exit code.
    """
    return 128 - returncode if returncode < 0 else returncode


def _preexec(parent_pid: int) -> Callable[[], None]:
    prctl = _LIBC.prctl

    def run() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl; then nothing would ever kill us.
        if os.getppid() != parent_pid:
            os._exit(137)

    return run


@dataclass(frozen=True)
class _Member:
    pid: int
    create_time: float


class GroupRegistry:
    """The process groups the kubelet started, recorded on disk to survive a crash.

    Args:
        directory: Where the records live (`<data-dir>/kubelet/groups`).
        marker: The value of `MARKER_VARIABLE` in this kubelet's containers.
    """

    def __init__(self, directory: Path, marker: str) -> None:
        self._dir = directory
        self._marker = marker
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def marker(self) -> str:
        """The marker value this kubelet's containers carry."""
        return self._marker

    def record(self, pgid: int, create_time: float) -> None:
        """Records a group right after it was started.

        Args:
            pgid: The group id (the leader's pid).
            create_time: The leader's start time as psutil reports it, to tell a reused pid apart.
        """
        path = self._dir / f"{pgid}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pgid": pgid, "create_time": create_time}))
        tmp.replace(path)

    def forget(self, pgid: int) -> None:
        """Removes the record of a group that is gone.

        Args:
            pgid: The group id.
        """
        with contextlib.suppress(FileNotFoundError):
            (self._dir / f"{pgid}.json").unlink()

    def kill_leftovers(self) -> list[int]:
        """Kills every process of a previous life: recorded groups and processes with our marker.

        Returns:
            The pids that were sent SIGKILL.
        """
        recorded: dict[int, float] = {}
        for path in self._dir.glob("*.json"):
            try:
                data = json.loads(path.read_text())
                recorded[int(data["pgid"])] = float(data["create_time"])
            except (OSError, ValueError, KeyError):
                pass
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        me = os.getpid()
        spared = {me, *(p.pid for p in psutil.Process(me).parents())}
        victims: list[psutil.Process] = []
        for proc in psutil.process_iter(["pid", "create_time"]):
            if proc.pid in spared:
                continue
            if self._is_leftover(proc, recorded):
                victims.append(proc)
        for proc in victims:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(psutil.Error):
            psutil.wait_procs(victims, timeout=5)
        return [p.pid for p in victims]

    def _is_leftover(self, proc: psutil.Process, recorded: dict[int, float]) -> bool:
        try:
            if proc.environ().get(MARKER_VARIABLE) == self._marker:
                return True
        except psutil.Error:
            pass
        # Without our marker only a recorded leader itself counts: once a group is empty its id
        # can be reused, and killing an unrelated process would be worse than missing a process
        # that both cleared its environment and left its group.
        try:
            created = recorded.get(proc.pid)
            return created is not None and abs(float(proc.info["create_time"]) - created) < 0.01
        except (TypeError, KeyError):
            return False


class ContainerProcess:
    """One running container: the leader process of its own group, with merged stdout/stderr.

    asyncio's subprocess transport only reports an exit once the output pipes are closed, which
    a background child holding stdout would delay forever; so the exit is watched through a
    pidfd instead and the pipe is read separately. Use `spawn` to create one.
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdout: asyncio.StreamReader,
        transport: asyncio.ReadTransport,
        registry: GroupRegistry,
    ) -> None:
        self._popen = popen
        self._stdout = stdout
        self._transport = transport
        self._registry = registry
        self._seen: dict[int, _Member] = {}
        self._exit: int | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._watch_exit()

    @classmethod
    async def spawn(
        cls, argv: list[str], *, env: dict[str, str], cwd: Path, registry: GroupRegistry
    ) -> ContainerProcess:
        """Starts a container process.

        Args:
            argv: Program and arguments; the program is looked up on the `PATH` of `env`.
            env: The complete environment (the marker variable is added).
            cwd: The working directory.
            registry: Where the group is recorded.

        Returns:
            The running process; its output is read from `stdout`.

        Raises:
            OSError: The program cannot be executed (not found, not executable).
        """
        full_env = {**env, MARKER_VARIABLE: registry.marker}
        read_fd, write_fd = os.pipe()
        try:
            # The fork must happen on the loop's thread: PDEATHSIG fires when the forking *thread* ends.
            # Popen only forks and execs here (no waiting), which is quick enough for the loop.
            popen = subprocess.Popen(  # noqa: ASYNC220
                argv,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                cwd=str(cwd),
                env=full_env,
                start_new_session=True,
                # Only prctl (resolved before the fork), getppid and _exit run in the child, none of
                # which takes a lock another thread could hold.
                preexec_fn=_preexec(os.getpid()),  # noqa: PLW1509
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            create_time = time.time()
        registry.record(popen.pid, create_time)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20, loop=loop)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(read_fd, "rb", 0)
        )
        return cls(popen, reader, transport, registry)

    def _watch_exit(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(self._popen.pid)
        except ProcessLookupError:
            self._finish()
            return

        def readable() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._finish()

        loop.add_reader(pidfd, readable)

    def _finish(self) -> None:
        returncode = self._popen.wait()
        if not self._exited.done():
            self._exited.set_result(returncode)

    @property
    def pid(self) -> int:
        """The leader's pid, which is also the process group id."""
        return self._popen.pid

    @property
    def stdout(self) -> asyncio.StreamReader:
        """The merged stdout and stderr of the container."""
        return self._stdout

    def close_output(self) -> None:
        """Stops reading the output pipe (when something outside the container still holds it)."""
        self._transport.close()

    @property
    def returncode(self) -> int | None:
        """The container's exit code once it has ended, else None."""
        return self._exit

    def rss(self) -> int:
        """Resident memory of the container's process tree in bytes; remembers its members.

        Returns:
            The sum of the RSS of the leader and its descendants (0 when the leader is gone).
        """
        try:
            leader = psutil.Process(self.pid)
            members = [leader, *leader.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for proc in members:
            try:
                total += proc.memory_info().rss
                if proc.pid not in self._seen:
                    self._seen[proc.pid] = _Member(proc.pid, proc.create_time())
            except psutil.Error:
                continue
        return total

    async def wait(self) -> int:
        """Waits for the leader to end, then kills what remains of the container.

        Returns:
            The exit code (128+signal when killed by a signal).
        """
        returncode = await asyncio.shield(self._exited)
        if self._exit is None:
            self._exit = exit_code(returncode)
            self._reap_rest()
        return self._exit

    def signal(self, sig: int) -> None:
        """Sends a signal to the container's whole process group (and descendants seen leaving it).

        Args:
            sig: The signal number.
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        if sig == signal.SIGKILL:
            self._kill_members(self._seen.values())

    async def terminate(self, grace: float) -> int:
        """Stops the container as a runtime does: SIGTERM, then SIGKILL after `grace` seconds.

        Args:
            grace: Seconds between SIGTERM and SIGKILL (0 sends SIGKILL at once).

        Returns:
            The exit code.
        """
        if self._exit is not None:
            return self._exit
        if grace > 0:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(self.wait()), timeout=grace)
        self.signal(signal.SIGKILL)
        return await self.wait()

    def _reap_rest(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._kill_members(self._seen.values())
        self._registry.forget(self.pid)

    def _kill_members(self, members: Iterable[_Member]) -> None:
        for member in list(members):
            if member.pid == self.pid:
                continue
            try:
                proc = psutil.Process(member.pid)
                if abs(proc.create_time() - member.create_time) < 0.01:
                    proc.kill()
            except psutil.Error:
                continue
