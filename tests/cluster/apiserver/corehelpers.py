"""Helpers for the in-process API server core tests (no HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from kaptain.cluster.apiserver.builtin import CONFIGMAPS, JOBS, PODS
from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import WatchEvent

Object = dict[str, Any]


@asynccontextmanager
async def open_core(data_dir: Path, **options: Any) -> AsyncIterator[Core]:
    """A started core over `data_dir`, closed afterwards."""
    options.setdefault("bookmark_interval", timedelta(seconds=5))
    core = await Core.open(data_dir, **options)
    try:
        yield core
    finally:
        await core.close()


async def wait_until(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    within: float = 5.0,
    what: str = "condition",
) -> None:
    """Polls `check` until it is true; fails the test after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def gone(core: Core, rt: Any, namespace: str | None, name: str) -> bool:
    """Whether the object no longer exists."""
    try:
        await core.get(rt, namespace, name)
    except ApiError as exc:
        assert exc.code == 404
        return True
    return False


async def next_events(
    stream: AsyncIterator[WatchEvent], count: int, *, within: float = 5.0
) -> list[WatchEvent]:
    """Reads exactly `count` events from a watch, failing after `within` seconds."""
    out: list[WatchEvent] = []
    async with asyncio.timeout(within):
        while len(out) < count:
            out.append(await anext(stream))
    return out


def configmap(name: str, data: dict[str, str] | None = None, **meta: Any) -> Object:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": data or {}}


def pod(
    name: str, *, node: str | None = None, owner: Object | None = None, block: bool = True, **meta: Any
) -> Object:
    body: Object = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta},
        "spec": {"containers": [{"name": "main", "image": "python:3.11"}], "restartPolicy": "Never"},
    }
    if node:
        body["spec"]["nodeName"] = node
    if owner is not None:
        body["metadata"]["ownerReferences"] = [owner_ref(owner, block=block)]
    return body


def job(name: str) -> Object:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "main", "image": "python:3.11"}], "restartPolicy": "Never"}
            }
        },
    }


def owner_ref(owner: Object, *, block: bool = True, controller: bool = True) -> Object:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": block,
    }


__all__ = ["CONFIGMAPS", "JOBS", "PODS"]
