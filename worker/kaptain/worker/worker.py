"""The Kaptain worker: runs the build and train workflows and their activities.

`kaptain worker` runs it in the foreground. It connects to Temporal through
`temporalio.envconfig` (``TEMPORAL_ADDRESS``, default ``localhost:7233``), to Kubernetes through a
kubeconfig (``KUBECONFIG``, else ``<data dir>/kubeconfig`` written by the embedded cluster, else
``~/.kube/config``, else the pod's service account), and polls task queue ``$KAPTAIN_TASK_QUEUE``
or ``kaptain``. Registry and storage credentials reach it sealed; it opens them with the key it
shares with the SDK (`kaptain.workflows.sealed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.worker import Worker

from kaptain.activities.kubernetes.activities import KubernetesActivities
from kaptain.activities.kubernetes.client import KubeClient
from kaptain.activities.registry import RegistryActivities
from kaptain.activities.storage.activities import StorageActivities
from kaptain.home import data_dir
from kaptain.runs.client import connect, task_queue
from kaptain.workflows import search_attributes
from kaptain.workflows.build import BuildWorkflow
from kaptain.workflows.sealed import Sealer
from kaptain.workflows.train import TrainWorkflow

__all__ = [
    "WORKFLOWS",
    "Activities",
    "create_worker",
    "ensure_search_attributes",
    "open_activities",
    "run_worker",
]

_log = logging.getLogger("kaptain.worker")

WORKFLOWS: Final = (BuildWorkflow, TrainWorkflow)

# On SIGTERM the worker stops polling and gives running activities this long to finish; watches
# are then cancelled and resume on another worker from their heartbeated resourceVersion.
GRACEFUL_SHUTDOWN: Final = timedelta(seconds=10)


class WorkerConfigError(RuntimeError):
    """The worker cannot find what it needs to connect to (Kubernetes, Temporal)."""


@dataclass
class Activities:
    """The activity objects of one worker, with what they hold open."""

    kubernetes: KubernetesActivities
    storage: StorageActivities
    registry: RegistryActivities

    def callables(self) -> list[Callable[..., Any]]:
        """Every activity, for `Worker(activities=...)`."""
        k, s, r = self.kubernetes, self.storage, self.registry
        return [
            k.create_object,
            k.create_secret,
            k.watch_object,
            k.watch_scheduling,
            k.delete_objects,
            k.delete_run_objects,
            k.failure_details,
            s.read_metrics,
            s.count_prefix,
            s.delete_prefix,
            s.copy_prefix,
            r.find_image,
        ]


def kubeconfig_path() -> Path | None:
    """The kubeconfig to use: ``$KUBECONFIG``, ``<data dir>/kubeconfig``, ``~/.kube/config``, or None
    (in-cluster configuration)."""
    configured = os.environ.get("KUBECONFIG", "").strip()
    if configured:
        return Path(configured.split(os.pathsep)[0]).expanduser()
    for candidate in (data_dir() / "kubeconfig", Path.home() / ".kube" / "config"):
        if candidate.is_file():
            return candidate
    return None


@contextlib.asynccontextmanager
async def open_activities(
    *, kubeconfig: Path | None = None, sealer: Sealer | None = None
) -> AsyncIterator[Activities]:
    """The activities, connected to the cluster; their clients are closed on exit.

    Args:
        kubeconfig: The kubeconfig (default: `kubeconfig_path`).
        sealer: Opens sealed credentials (default: the data dir's key, as the SDK's).

    Raises:
        WorkerConfigError: There is no kubeconfig and the worker does not run in a cluster.
    """
    seal = sealer if sealer is not None else Sealer.load(data_dir())
    config = kubeconfig if kubeconfig is not None else kubeconfig_path()
    if config is None and not os.environ.get("KUBERNETES_SERVICE_HOST"):
        raise WorkerConfigError(
            "no Kubernetes configuration: set KUBECONFIG, start the embedded cluster "
            "(`kaptain cluster serve` writes <data dir>/kubeconfig), or run the worker inside a cluster"
        )
    kube = await KubeClient.connect(kubeconfig=config)
    activities = Activities(
        KubernetesActivities(kube, seal), StorageActivities(seal), RegistryActivities(seal)
    )
    try:
        yield activities
    finally:
        await activities.storage.close()
        await activities.registry.close()
        await kube.close()


def create_worker(client: Client, activities: Activities, *, queue: str | None = None) -> Worker:
    """A worker for every Kaptain workflow and activity.

    Args:
        client: A client with the pydantic data converter.
        activities: The activities.
        queue: The task queue (default: `kaptain.runs.client.task_queue`).
    """
    return Worker(
        client,
        task_queue=queue or task_queue(),
        workflows=list(WORKFLOWS),
        activities=activities.callables(),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def ensure_search_attributes(client: Client) -> None:
    """Register Kaptain's search attributes on the client's namespace when they are missing."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in search_attributes.ALL
        if key.name not in listed.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
        _log.info("Registered search attributes %s on namespace %s", sorted(missing), client.namespace)


async def run_worker(*, kubeconfig: Path | None = None, queue: str | None = None) -> None:
    """Run a worker until SIGINT or SIGTERM, then shut it down gracefully.

    Raises:
        WorkerConfigError: No Kubernetes configuration was found.
        KaptainException: Temporal cannot be reached.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_activities(kubeconfig=kubeconfig) as activities:
        client = await connect()
        await ensure_search_attributes(client)
        worker = create_worker(client, activities, queue=queue)
        async with worker:
            _log.info(
                "Worker started: task queue %s, namespace %s, Kubernetes namespace %s",
                worker.task_queue,
                client.namespace,
                activities.kubernetes.namespace,
            )
            await stop.wait()
            _log.info("Shutting down the worker...")
    _log.info("Worker stopped")
