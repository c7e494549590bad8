"""The Kubernetes activities against the embedded cluster's API server (real HTTPS, real kubeconfig).

No kubelet or controllers run here: the test plays the controller by writing the ``status``
subresource, as a training operator would, and checks how the activities react.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from kaptain.activities.kubernetes.activities import WORKER_SHUTDOWN, KubernetesActivities
from kaptain.activities.kubernetes.client import KubeClient
from kaptain.workflows.errors import OBJECT_CONFLICT, SECRETS_UNREADABLE, WORKLOAD_DEPLOYMENT_FAILED
from kaptain.workflows.manifests.training import training_manifest
from kaptain.workflows.names import run_labels, run_selector
from kaptain.workflows.objects import (
    CreateObjectRequest,
    DeleteObjectsRequest,
    DeleteRunObjectsRequest,
    FailureDetailsRequest,
    Kind,
    ObjectRef,
    SecretRequest,
    WatchRequest,
)
from kaptain.workflows.sealed import Sealer
from tests.cluster.conftest import RunningCluster, start_cluster
from tests.conftest import free_port
from tests.workflows import samples


@dataclasses.dataclass
class _Setup:
    cluster: RunningCluster
    client: KubeClient
    sealer: Sealer
    activities: KubernetesActivities


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[_Setup]:
    async with start_cluster(tmp_path / "cluster") as cluster:
        client = await KubeClient.connect(kubeconfig=cluster.kubeconfig)
        sealer = samples.new_sealer()
        try:
            yield _Setup(cluster, client, sealer, KubernetesActivities(client, sealer))
        finally:
            await client.close()


def _env(heartbeat_details: list[Any] | None = None) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, heartbeat_details=heartbeat_details or [], heartbeat_timeout=timedelta(seconds=3)
    )
    return env


async def _patch_status(setup: _Setup, path: str, status: dict[str, Any]) -> None:
    async with setup.cluster.http() as http:
        response = await http.patch(
            f"{path}/status",
            json={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status == 200, await response.text()


def _job(revision: str, name: str | None = None) -> dict[str, Any]:
    inp = samples.train_input(samples.new_sealer(), framework="sklearn", workers=1)
    manifest = training_manifest(inp.model_copy(update={"revision": revision}), "python:3.11")
    if name is not None:
        manifest["metadata"]["name"] = name
    return manifest


async def test_create_is_idempotent_for_the_same_run(setup: _Setup) -> None:
    revision = uuid.uuid4().hex
    env = _env()
    first = await env.run(setup.activities.create_object, CreateObjectRequest(manifest=_job(revision)))
    assert first.exists and first.uid and first.phase == "Created"
    again = await env.run(setup.activities.create_object, CreateObjectRequest(manifest=_job(revision)))
    assert again.uid == first.uid

    # Same name, another run: not ours to adopt.
    with pytest.raises(ApplicationError) as err:
        await env.run(
            setup.activities.create_object,
            CreateObjectRequest(manifest=_job(uuid.uuid4().hex, name=first.ref.name)),
        )
    assert err.value.type == OBJECT_CONFLICT and err.value.non_retryable


async def test_refused_objects_are_permanent_failures(setup: _Setup) -> None:
    env = _env()
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {}}}
    with pytest.raises(ApplicationError) as err:
        await env.run(setup.activities.create_object, CreateObjectRequest(manifest=unknown))
    assert err.value.type == WORKLOAD_DEPLOYMENT_FAILED and err.value.non_retryable
    assert "served by this cluster" in err.value.message

    invalid = _job(uuid.uuid4().hex, name="Not_A_Valid_Name")
    with pytest.raises(ApplicationError) as err:
        await env.run(setup.activities.create_object, CreateObjectRequest(manifest=invalid))
    assert err.value.type == WORKLOAD_DEPLOYMENT_FAILED


async def test_secrets_are_opened_only_by_the_activity(setup: _Setup) -> None:
    env = _env()
    labels = run_labels(id_label="dev.mnist", revision=uuid.uuid4().hex, action="train")
    request = SecretRequest(
        name="train-registry-test",
        labels=labels,
        type="kubernetes.io/dockerconfigjson",
        data={".dockerconfigjson": setup.sealer.seal(samples.docker_config())},
        data_from=setup.sealer.seal(json.dumps(samples.s3_env())),
        plain_data={"ca.crt": "PEM"},
    )
    assert samples.DOCKER_PASSWORD not in request.model_dump_json()
    await env.run(setup.activities.create_secret, request)
    stored = await setup.client.get("v1", "Secret", "train-registry-test")
    data = {k: base64.b64decode(v).decode() for k, v in stored["data"].items()}
    assert data[".dockerconfigjson"] == samples.docker_config()
    assert data["AWS_SECRET_ACCESS_KEY"] == samples.S3_SECRET_KEY
    assert data["ca.crt"] == "PEM"
    assert stored["type"] == "kubernetes.io/dockerconfigjson"
    assert stored["metadata"]["labels"] == labels

    foreign = request.model_copy(update={"name": "other", "data": {"x": samples.new_sealer().seal("v")}})
    with pytest.raises(ApplicationError) as err:
        await env.run(setup.activities.create_secret, foreign)
    assert err.value.type == SECRETS_UNREADABLE


async def test_watch_returns_on_changes_that_matter(setup: _Setup) -> None:
    env = _env()
    created = await env.run(
        setup.activities.create_object, CreateObjectRequest(manifest=_job(uuid.uuid4().hex))
    )
    path = setup.client.path("batch/v1", "Job", created.ref.name)

    watching = asyncio.create_task(
        env.run(setup.activities.watch_object, WatchRequest(ref=created.ref, last=created))
    )
    await asyncio.sleep(0.5)
    assert not watching.done(), "nothing changed yet"
    await _patch_status(setup, path, {"active": 1, "ready": 1, "startTime": "2026-01-01T00:00:00Z"})
    running = await asyncio.wait_for(watching, 10)
    assert (running.phase, running.active, running.ready) == ("Running", 1, 1)

    # A retried attempt resumes from its heartbeated version: it sees what happened since then
    # even though the change came before the attempt started.
    await _patch_status(
        setup,
        path,
        {
            "active": 0,
            "ready": 0,
            "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True", "reason": "Completed", "message": "done"}],
        },
    )
    resumed_env = _env([{"resource_version": running.resource_version}])
    beats: list[Any] = []
    resumed_env.on_heartbeat = beats.append
    done = await asyncio.wait_for(
        resumed_env.run(setup.activities.watch_object, WatchRequest(ref=created.ref, last=running)), 10
    )
    assert (done.phase, done.succeeded, done.message) == ("Succeeded", 1, "done")
    assert beats and all(isinstance(b, dict) and "resource_version" in b for b in beats)

    watching = asyncio.create_task(
        env.run(setup.activities.watch_object, WatchRequest(ref=created.ref, last=done))
    )
    await asyncio.sleep(0.3)
    await env.run(setup.activities.delete_objects, DeleteObjectsRequest(refs=[created.ref]))
    gone = await asyncio.wait_for(watching, 10)
    assert not gone.exists and gone.phase == "Deleted"


async def test_watch_of_a_missing_object_reports_it_deleted(setup: _Setup) -> None:
    ref = ObjectRef(api_version="batch/v1", kind="Job", name="never-created")
    status = await _env().run(setup.activities.watch_object, WatchRequest(ref=ref))
    assert status.phase == "Deleted" and not status.exists


async def test_delete_run_objects_removes_everything_with_the_runs_labels(setup: _Setup) -> None:
    env = _env()
    revision = uuid.uuid4().hex
    job = await env.run(setup.activities.create_object, CreateObjectRequest(manifest=_job(revision)))
    labels = run_labels(id_label="dev.mnist", revision=revision, action="train")
    await env.run(setup.activities.create_secret, SecretRequest(name=f"train-{revision[:16]}", labels=labels))
    other = await env.run(
        setup.activities.create_object, CreateObjectRequest(manifest=_job(uuid.uuid4().hex))
    )

    deleted = await env.run(
        setup.activities.delete_run_objects,
        DeleteRunObjectsRequest(
            selector=run_selector(revision=revision, action="train"),
            kinds=[
                Kind(api_version="batch/v1", kind="Job"),
                Kind(api_version="kubeflow.org/v1", kind="PyTorchJob"),
                Kind(api_version="v1", kind="Secret"),
                Kind(api_version="v1", kind="Pod"),
            ],
            wait_seconds=20,
        ),
    )
    assert sorted(deleted.deleted) == sorted([f"Job/{job.ref.name}", f"Secret/train-{revision[:16]}"])
    assert deleted.remaining == []
    listed = await setup.client.list_objects(
        "batch/v1", "Job", label_selector="app.kubernetes.io/managed-by=kaptain"
    )
    assert [item["metadata"]["name"] for item in listed["items"]] == [other.ref.name]
    # Deleting again finds nothing, and that is fine.
    again = await env.run(setup.activities.delete_objects, DeleteObjectsRequest(refs=[job.ref]))
    assert again.deleted == []


async def test_failure_details_name_the_failed_containers(setup: _Setup) -> None:
    revision = uuid.uuid4().hex
    labels = run_labels(id_label="dev.mnist", revision=revision, action="train")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "mnist-job-1234abcd-x1", "labels": labels},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "sklearn", "image": "python:3.11"}]},
    }
    await setup.client.create(pod)
    await _patch_status(
        setup,
        setup.client.path("v1", "Pod", "mnist-job-1234abcd-x1"),
        {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": "sklearn",
                    "ready": False,
                    "restartCount": 0,
                    "image": "python:3.11",
                    "imageID": "",
                    "state": {"terminated": {"exitCode": 3, "reason": "Error"}},
                }
            ],
        },
    )
    details = await _env().run(
        setup.activities.failure_details,
        FailureDetailsRequest(selector=run_selector(revision=revision, action="train")),
    )
    assert [(f.pod, f.container, f.exit_code, f.reason) for f in details.failures] == [
        ("mnist-job-1234abcd-x1", "sklearn", 3, "Error")
    ]
    assert "mnist-job-1234abcd-x1/sklearn exited with 3 (Error)" in details.summary()


async def test_watch_survives_an_api_server_restart(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "cluster"
    sealer = samples.new_sealer()
    async with start_cluster(data_dir, port=port) as cluster:
        client = await KubeClient.connect(kubeconfig=cluster.kubeconfig)
    activities = KubernetesActivities(client, sealer)
    env = _env()
    try:
        async with start_cluster(data_dir, port=port):
            created = await env.run(
                activities.create_object, CreateObjectRequest(manifest=_job(uuid.uuid4().hex))
            )
            watching = asyncio.create_task(
                env.run(activities.watch_object, WatchRequest(ref=created.ref, last=created))
            )
            await asyncio.sleep(0.5)
        # The API server is down: the watch keeps trying (and heartbeating) instead of failing.
        await asyncio.sleep(1.5)
        assert not watching.done()
        async with start_cluster(data_dir, port=port) as restarted:
            setup = _Setup(restarted, client, sealer, activities)
            await _patch_status(setup, client.path("batch/v1", "Job", created.ref.name), {"active": 1})
            status = await asyncio.wait_for(watching, 20)
        assert status.phase == "Running" and status.uid == created.uid
    finally:
        await client.close()


async def test_watch_gives_way_when_its_worker_shuts_down(setup: _Setup) -> None:
    env = _env()
    created = await env.run(
        setup.activities.create_object, CreateObjectRequest(manifest=_job(uuid.uuid4().hex))
    )
    beats: list[Any] = []
    env.on_heartbeat = beats.append
    watching = asyncio.create_task(
        env.run(setup.activities.watch_object, WatchRequest(ref=created.ref, last=created))
    )
    await asyncio.sleep(0.5)
    env.worker_shutdown()
    with pytest.raises(ApplicationError) as err:
        await asyncio.wait_for(watching, 5)
    assert err.value.type == WORKER_SHUTDOWN and not err.value.non_retryable
    # What it heartbeated lets the next attempt resume where this one was.
    assert beats[-1] == {"resource_version": created.resource_version}
