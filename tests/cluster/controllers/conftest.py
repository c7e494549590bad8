"""Fixtures of the controller tests: the real API core in a temporary data dir and the controllers.

Before the kubelet is involved, tests play its part through the API: they write pod status
(phase, container states, exit codes, restart counts) and finalise deleted pods as it would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.controllers import build_controllers


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
