"""Creating pods and waiting for what the kubelet reports."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

import psutil

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore

Object = dict[str, Any]
PY = sys.executable


def pods(core: ApiCore) -> Any:
    rt = core.registry.get("", "v1", "pods")
    assert rt is not None
    return rt


def rt(core: ApiCore, plural: str) -> Any:
    found = core.registry.get("", "v1", plural)
    assert found is not None
    return found


def pod_manifest(name: str, *containers: Object, restart: str = "Never", **spec: Any) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": restart, "containers": list(containers), **spec},
    }


def python_container(name: str, code: str, **extra: Any) -> Object:
    return {"name": name, "image": "python:3.11", "command": ["python", "-u", "-c", code], **extra}


async def create(core: ApiCore, manifest: Object) -> Object:
    return await core.create(pods(core), "default", manifest)


async def wait_pod(
    core: ApiCore, name: str, check: Callable[[Object], bool], within: float = 20.0, what: str = ""
) -> Object:
    deadline = time.monotonic() + within
    last: Object = {}
    while time.monotonic() < deadline:
        try:
            last = await core.get(pods(core), "default", name)
        except ApiError:
            last = {}
        try:
            matched = bool(last) and check(last)
        except (AssertionError, KeyError, TypeError):
            # No container statuses yet.
            matched = False
        if matched:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(
        f"pod {name} never became {what or 'as expected'}; last status: {last.get('status')}"
    )


async def wait_phase(core: ApiCore, name: str, *phases: str, within: float = 20.0) -> Object:
    return await wait_pod(
        core, name, lambda p: (p.get("status") or {}).get("phase") in phases, within, f"phase in {phases}"
    )


async def wait_gone(core: ApiCore, name: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            await core.get(pods(core), "default", name)
        except ApiError as exc:
            assert exc.code == 404
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"pod {name} was not removed")


async def events_by_reason(core: ApiCore, pod: str, *wanted: str) -> dict[str, list[Object]]:
    """The events about a pod by reason, once every `wanted` reason is recorded."""
    found: dict[str, list[Object]] = {}
    for _ in range(200):
        items, _ = await core.list(rt(core, "events"), "default")
        found = {}
        for event in items:
            if event["involvedObject"]["name"] == pod:
                found.setdefault(event["reason"], []).append(event)
        if all(w in found for w in wanted):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"events {wanted} not all recorded for {pod}: {sorted(found)}")


def container_status(pod: Object, name: str | None = None, *, init: bool = False) -> Object:
    key = "initContainerStatuses" if init else "containerStatuses"
    statuses = (pod.get("status") or {}).get(key) or []
    for status in statuses:
        if name is None or status["name"] == name:
            return dict(status)
    raise AssertionError(f"no status for container {name} in {statuses}")


def terminated(pod: Object, name: str | None = None) -> Object:
    return dict(container_status(pod, name)["state"].get("terminated") or {})


async def log_text(kubelet: Any, name: str, container: str | None = None, **options: Any) -> str:
    chunks = [c async for c in kubelet.read_log("default", name, container, **options)]
    return b"".join(chunks).decode()


def processes_with_marker(marker_value: str) -> list[int]:
    """Pids of live processes whose environment carries the kubelet marker with this value."""
    from kaptain.cluster.kubelet.procs import MARKER_VARIABLE

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(MARKER_VARIABLE) == marker_value:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def alive_pids(pids: list[int]) -> list[int]:
    """The processes among `pids` that still run (zombies count as gone)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            continue
    return alive


def wait_pids_gone(pids: list[int], within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    alive = pids
    while time.monotonic() < deadline:
        alive = alive_pids(pids)
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def waiting_reason(pod: Object, name: str | None = None, *, init: bool = False) -> str | None:
    """The waiting reason of a container, None when it is not waiting or has no status yet."""
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(key) or []:
        if name is None or status["name"] == name:
            return (status["state"].get("waiting") or {}).get("reason")
    return None


async def wait_pid_gone_async(pid: int, within: float = 10.0) -> bool:
    """Whether a process is gone (or a zombie) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.Error:
            return True
        await asyncio.sleep(0.05)
    return False


async def first_line(kubelet: Any, name: str, container: str | None = None, within: float = 10.0) -> str:
    """The first line a container printed, waiting for it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            text = await log_text(kubelet, name, container)
        except ApiError:
            text = ""
        if "\n" in text:
            return text.split("\n", 1)[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"pod {name} printed nothing")
