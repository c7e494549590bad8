"""The life cycle every long-running part of the embedded cluster follows."""

from __future__ import annotations

from typing import Protocol


class Component(Protocol):
    """A part of the cluster process (kubelet, a controller, ...) started and stopped by the server.

    `start` returns once the component is running (its background tasks created); `stop` cancels
    them and releases what the component holds (processes, files). Both are idempotent.
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
