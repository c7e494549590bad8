"""Fixtures of the kubelet tests: the real API core and image store in a temporary data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.images.store import ImageStore
from kaptain.cluster.kubelet import Kubelet
from tests.cluster.kubelet.helpers import processes_with_marker, wait_pids_gone


@dataclass
class Node:
    """A running kubelet with its core and data dir."""

    core: Core
    kubelet: Kubelet
    data_dir: Path
    images: ImageStore


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    opened = await Core.open(tmp_path / "data")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def extended_resources() -> dict[str, int] | None:
    """Extended resources of the `node` fixture's kubelet; parametrize a test with it to set some."""
    return None


@pytest.fixture
async def node(core: Core, tmp_path: Path, extended_resources: dict[str, int] | None) -> AsyncIterator[Node]:
    data_dir = tmp_path / "data"
    images = ImageStore(data_dir)
    kubelet = Kubelet(
        core, data_dir=data_dir, images=images, stop_grace=1.0, extended_resources=extended_resources
    )
    await kubelet.start()
    try:
        yield Node(core, kubelet, data_dir, images)
    finally:
        await kubelet.stop()
    # Whatever a test did, no container process may outlive the kubelet.
    assert wait_pids_gone(processes_with_marker(kubelet.process_marker)) == []
