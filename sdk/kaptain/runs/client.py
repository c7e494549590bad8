"""The Temporal client of the SDK (and of the worker), configured through `temporalio.envconfig`.

The address, namespace, TLS and API key come from ``TEMPORAL_*`` environment variables or a
``temporal.toml`` profile, as for the Temporal CLI; the address defaults to ``localhost:7233``
(the dev server of ``kaptain dev``). Runs go to task queue ``$KAPTAIN_TASK_QUEUE`` or
``kaptain``.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import Final

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig

from kaptain.exceptions import KaptainException

__all__ = ["DEFAULT_TASK_QUEUE", "TASK_QUEUE_ENV", "connect", "get_client", "task_queue"]

DEFAULT_TASK_QUEUE: Final = "kaptain"
TASK_QUEUE_ENV: Final = "KAPTAIN_TASK_QUEUE"
DEFAULT_ADDRESS: Final = "localhost:7233"

# A client belongs to the event loop it was made on; a notebook has one loop, tests may have more.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], Client]] = (
    weakref.WeakKeyDictionary()
)


def task_queue() -> str:
    """The task queue of Kaptain's worker: ``$KAPTAIN_TASK_QUEUE`` or ``kaptain``."""
    return os.environ.get(TASK_QUEUE_ENV, "").strip() or DEFAULT_TASK_QUEUE


async def connect() -> Client:
    """A new client for the configured Temporal, with the pydantic data converter.

    Raises:
        KaptainException: Temporal cannot be reached.
    """
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", DEFAULT_ADDRESS)
    try:
        return await Client.connect(**config, data_converter=pydantic_data_converter)
    except RuntimeError as err:
        raise KaptainException(
            f"cannot reach Temporal at {config['target_host']} (set TEMPORAL_ADDRESS, or start `kaptain dev`): {err}"
        ) from err


async def get_client() -> Client:
    """The client of this event loop for the configured Temporal, connected on first use."""
    config = ClientConfig.load_client_connect_config()
    key = (str(config.get("target_host") or DEFAULT_ADDRESS), str(config.get("namespace") or "default"))
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    if key not in per_loop:
        per_loop[key] = await connect()
    return per_loop[key]
