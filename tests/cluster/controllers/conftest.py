"""Fixtures of the controller tests: the real API core in a temporary data dir and the controllers.

Before the kubelet is involved, tests play its part through the API: they write pod status
(phase, container states, exit codes, restart counts) and finalise deleted pods as it would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.controllers import build_controllers
from kaptain.cluster.images.store import ImageStore
from kaptain.cluster.kubelet import Kubelet


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    opened = await Core.open(tmp_path / "apiserver")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def controllers(core: Core) -> AsyncIterator[Core]:
    """Starts all controllers on `core` (with a short pod failure backoff) and yields the core."""
    started = build_controllers(core, pod_failure_backoff=0.2)
    try:
        for controller in started:
            await controller.start()
        yield core
    finally:
        for controller in reversed(started):
            await controller.stop()


@dataclass
class Node:
    """The core with the controllers and a real kubelet running pods as local processes."""

    core: Core
    kubelet: Kubelet
    data_dir: Path


@pytest.fixture
async def node(controllers: Core, tmp_path: Path) -> AsyncIterator[Node]:
    data_dir = tmp_path / "apiserver"
    kubelet = Kubelet(controllers, data_dir=data_dir, images=ImageStore(data_dir), stop_grace=1.0)
    await kubelet.start()
    try:
        yield Node(controllers, kubelet, data_dir)
    finally:
        await kubelet.stop()
