"""Fixtures of the workflow tests: Temporal's dev server, an API server, and a worker on them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from kaptain.activities.kubernetes.client import KubeClient
from kaptain.worker.worker import create_worker, open_activities
from kaptain.workflows.sealed import Sealer
from tests.cluster.conftest import RunningCluster, start_cluster
from tests.workflows import samples
from tests.workflows.servers import temporal_dev_server


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server, shared by the session."""
    async with temporal_dev_server() as env:
        yield env


@dataclass(frozen=True)
class Harness:
    """A worker on its own task queue, over an embedded API server (without kubelet/controllers)."""

    client: Client
    task_queue: str
    cluster: RunningCluster
    kube: KubeClient
    sealer: Sealer
    storage_dir: Path

    @property
    def storage_uri(self) -> str:
        return self.storage_dir.as_uri()


@pytest.fixture
async def harness(temporal: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    sealer = samples.new_sealer()
    queue = f"kaptain-test-{uuid.uuid4().hex[:8]}"
    async with start_cluster(tmp_path / "cluster") as cluster:
        kube = await KubeClient.connect(kubeconfig=cluster.kubeconfig)
        try:
            async with (
                open_activities(kubeconfig=cluster.kubeconfig, sealer=sealer) as activities,
                create_worker(temporal.client, activities, queue=queue),
            ):
                yield Harness(temporal.client, queue, cluster, kube, sealer, tmp_path / "models")
        finally:
            await kube.close()
