"""Container processes: own process group, exit codes, no orphans even when the kubelet is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from kaptain.cluster.kubelet.procs import MARKER_VARIABLE, ContainerProcess, GroupRegistry


def _wait_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = pids
    while time.monotonic() < deadline:
        alive = [
            p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


async def _descendants(proc: ContainerProcess, count: int) -> list[int]:
    for _ in range(200):
        try:
            kids = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            kids = []
        if len(kids) >= count:
            return [k.pid for k in kids]
        await asyncio.sleep(0.02)
    raise AssertionError("the container did not start its children")


async def test_group_is_terminated_as_a_whole(tmp_path: Path) -> None:
    registry = GroupRegistry(tmp_path / "groups", "m1")
    proc = await ContainerProcess.spawn(
        ["sh", "-c", "sleep 100 & sleep 100 & wait"],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        registry=registry,
    )
    assert os.getpgid(proc.pid) == proc.pid
    assert (tmp_path / "groups" / f"{proc.pid}.json").exists()
    kids = await _descendants(proc, 2)
    code = await proc.terminate(5)
    assert code == 128 + signal.SIGTERM
    assert _wait_gone([proc.pid, *kids]) == []
    assert not (tmp_path / "groups" / f"{proc.pid}.json").exists()


async def test_exit_codes_and_leftover_children_die_with_the_leader(tmp_path: Path) -> None:
    registry = GroupRegistry(tmp_path / "groups", "m2")
    env = {"PATH": os.environ["PATH"]}
    proc = await ContainerProcess.spawn(["sh", "-c", "exit 3"], env=env, cwd=tmp_path, registry=registry)
    assert await proc.wait() == 3
    proc = await ContainerProcess.spawn(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
        env=env,
        cwd=tmp_path,
        registry=registry,
    )
    assert await proc.wait() == 137
    # The main process exits while a background child lives on: like Docker, the child is killed.
    proc = await ContainerProcess.spawn(
        ["sh", "-c", "sleep 100 & echo $!; sleep 0.3"], env=env, cwd=tmp_path, registry=registry
    )
    line = await proc.stdout.readline()
    assert await proc.wait() == 0
    assert _wait_gone([int(line)]) == []


async def test_sigterm_is_escalated_to_sigkill_after_grace(tmp_path: Path) -> None:
    registry = GroupRegistry(tmp_path / "groups", "m3")
    proc = await ContainerProcess.spawn(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ok', flush=True); time.sleep(100)",
        ],
        env={},
        cwd=tmp_path,
        registry=registry,
    )
    assert await proc.stdout.readline() == b"ok\n"
    started = time.monotonic()
    assert await proc.terminate(0.5) == 137
    assert 0.4 < time.monotonic() - started < 5


_CRASHING_KUBELET = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from kaptain.cluster.kubelet.procs import ContainerProcess, GroupRegistry

    async def main():
        registry = GroupRegistry(Path(sys.argv[1]), "crash-test")
        proc = await ContainerProcess.spawn(
            ["sh", "-c", "sleep 1000 & echo $!; wait"], env={"PATH": "/usr/bin:/bin"}, cwd=Path(sys.argv[1]),
            registry=registry,
        )
        child = (await proc.stdout.readline()).decode().strip()
        print(proc.pid, child, flush=True)
        await asyncio.sleep(1000)

    asyncio.run(main())
    """
)


def test_killed_kubelet_leaves_nothing_behind_after_the_next_start(tmp_path: Path) -> None:
    groups = tmp_path / "groups"
    groups.mkdir()
    kubelet = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_KUBELET, str(groups)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert kubelet.stdout is not None
        leader, grandchild = (int(x) for x in kubelet.stdout.readline().split())
        assert psutil.Process(grandchild).environ()[MARKER_VARIABLE] == "crash-test"
        kubelet.kill()
        kubelet.wait(10)
        # PDEATHSIG takes the direct child with the crashed kubelet...
        assert _wait_gone([leader]) == []
        # ...but its own children survive until the next kubelet cleans up.
        assert psutil.pid_exists(grandchild)
        killed = GroupRegistry(groups, "crash-test").kill_leftovers()
        assert grandchild in killed
        assert _wait_gone([grandchild]) == []
        assert list(groups.glob("*.json")) == []
    finally:
        if kubelet.poll() is None:
            kubelet.kill()
            kubelet.wait(10)


async def test_rss_of_the_process_tree(tmp_path: Path) -> None:
    registry = GroupRegistry(tmp_path / "groups", "m4")
    proc = await ContainerProcess.spawn(
        [
            sys.executable,
            "-c",
            "b = b'x' * (80 << 20); print('ok', flush=True); import time; time.sleep(100)",
        ],
        env={},
        cwd=tmp_path,
        registry=registry,
    )
    try:
        assert await proc.stdout.readline() == b"ok\n"
        assert proc.rss() > 80 << 20
    finally:
        await proc.terminate(0)
    assert proc.rss() == 0
