"""Test-side helpers for driving workflows over an API server without controllers.

The tests play the part of the training operator and the Job controller: they wait for the
objects a run creates and write their ``status`` subresource, as a controller would.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kaptain.activities.kubernetes.client import KubeClient, KubeError
from kaptain.workflows.specs import BuildInput, RegistrySpec, StorageSpec, TrainInput
from tests.workflows import samples
from tests.workflows.conftest import Harness

T = TypeVar("T")

RUN_KINDS = (
    ("batch/v1", "Job"),
    ("kubeflow.org/v1", "PyTorchJob"),
    ("kubeflow.org/v1", "TFJob"),
    ("v1", "Secret"),
    ("v1", "Pod"),
)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 15.0, what: str = "") -> T:
    """The first non-None, non-False result of ``probe``, polled every 50 ms."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}")
        await asyncio.sleep(0.05)


async def get(kube: KubeClient, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
    try:
        return await kube.get(api_version, kind, name)
    except KubeError as err:
        if err.status == 404:
            return None
        raise


async def labelled_objects(
    kube: KubeClient, selector: str = "app.kubernetes.io/managed-by=kaptain"
) -> list[str]:
    """``Kind/name`` of every object with these labels, across the kinds runs create."""
    found: list[str] = []
    for api_version, kind in RUN_KINDS:
        listed = await kube.list_objects(api_version, kind, label_selector=selector)
        found += [f"{kind}/{item['metadata']['name']}" for item in listed.get("items", [])]
    return sorted(found)


async def set_status(
    harness: Harness, api_version: str, kind: str, name: str, status: dict[str, Any]
) -> None:
    """Write an object's status subresource, as its controller would."""
    path = harness.kube.path(api_version, kind, name, "status")
    async with harness.cluster.http() as http:
        response = await http.patch(
            path, json={"status": status}, headers={"Content-Type": "application/merge-patch+json"}
        )
        assert response.status == 200, await response.text()


async def fail_pod(
    harness: Harness, *, name: str, labels: dict[str, str], container: str, exit_code: int
) -> None:
    """Create a pod of the run that failed with ``exit_code``, as the kubelet would report it."""
    await harness.kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{"name": container, "image": "python:3.11"}]},
        }
    )
    await set_status(
        harness,
        "v1",
        "Pod",
        name,
        {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": container,
                    "ready": False,
                    "restartCount": 0,
                    "image": "python:3.11",
                    "imageID": "",
                    "state": {"terminated": {"exitCode": exit_code, "reason": "Error"}},
                }
            ],
        },
    )


async def unschedulable_pod(harness: Harness, *, name: str, labels: dict[str, str], message: str) -> None:
    """Create a pod of the run that the scheduler could not place, as it reports it."""
    await harness.kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "pytorch", "image": "python:3.11"}]},
        }
    )
    await set_status(
        harness,
        "v1",
        "Pod",
        name,
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        },
    )


def registry_spec(harness: Harness, *, password: str | None = None) -> RegistrySpec:
    host = harness.cluster.server.info.registry
    return RegistrySpec(
        docker_config=harness.sealer.seal(
            samples.docker_config(registry=host, password=password or harness.cluster.token)
        ),
        ca_certificate=harness.cluster.ca_file.read_text(),
    )


def build_input(harness: Harness, *, checksum: str, storage: StorageSpec | None = None) -> BuildInput:
    storage = storage or StorageSpec(base_uri=harness.storage_uri)
    return BuildInput(
        model=samples.model_ref(),
        revision=uuid.uuid4().hex,
        image=f"{harness.cluster.server.info.registry}/kaptain/mnist:v1",
        checksum=checksum,
        context_uri=f"{storage.base_uri}/dev/mnist/contexts/{checksum}.tar.gz",
        storage=storage,
        registry=registry_spec(harness),
    )


def train_input(
    harness: Harness,
    build: BuildInput,
    *,
    framework: str = "pytorch",
    workers: int = 2,
    force_cleanup: bool = False,
    timeout_seconds: int | None = None,
    schedule_timeout_seconds: int = 60,
) -> TrainInput:
    return TrainInput(
        model=samples.model_ref(),
        revision=uuid.uuid4().hex,
        framework=framework,
        build=build,
        workers=workers,
        hyperparameters={"--epochs": "2"},
        args={"--log-interval": "10"},
        storage=build.storage,
        registry=build.registry,
        force_cleanup=force_cleanup,
        timeout_seconds=timeout_seconds,
        schedule_timeout_seconds=schedule_timeout_seconds,
    )


def write_metrics(harness: Harness, inp: TrainInput, metrics: dict[str, Any]) -> None:
    """What `MetadataUtil.record_metrics` leaves in file:// storage."""
    target = harness.storage_dir / "dev" / "mnist" / "trained" / inp.revision / "metrics.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"metrics": metrics}))


def history_text(history: dict[str, Any]) -> str:
    """A run's history as searchable text: its JSON plus every payload decoded (payload data is base64)."""
    import base64

    decoded: list[str] = [json.dumps(history)]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "data" in node and "metadata" in node and isinstance(node["data"], str):
                decoded.append(base64.b64decode(node["data"]).decode("utf-8", errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(history)
    return "\n".join(decoded)
