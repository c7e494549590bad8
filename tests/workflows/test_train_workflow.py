"""`TrainWorkflow` on Temporal's dev server with the real activities over an embedded API server.

The test plays the training operator (it writes the job's status); the e2e tests run the real one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError

from kaptain.workflows.names import run_labels
from kaptain.workflows.search_attributes import KAPTAIN_OUTCOME
from kaptain.workflows.specs import RunProgress, StorageSpec, TrainInput, TrainResult
from kaptain.workflows.train import TrainWorkflow
from tests.workflows import playbook, samples
from tests.workflows.conftest import Harness
from tests.workflows.images import push_image
from tests.workflows.servers import S3Server, s3_server


async def _start(
    harness: Harness, **options: object
) -> tuple[TrainInput, WorkflowHandle[TrainWorkflow, TrainResult]]:
    checksum = uuid.uuid4().hex
    await push_image(harness.cluster, "kaptain/mnist", "v1", {"checksum": checksum})
    storage = options.pop("storage", None)
    build = playbook.build_input(harness, checksum=checksum, storage=storage)  # type: ignore[arg-type]
    inp = playbook.train_input(harness, build, **options)  # type: ignore[arg-type]
    handle = await harness.client.start_workflow(
        TrainWorkflow.run, inp, id=f"train-{inp.revision}", task_queue=harness.task_queue
    )
    return inp, handle


def _job_name(inp: TrainInput, kind: str = "pytorchjob") -> str:
    return f"mnist-{kind}-{inp.revision[:8]}"


async def _job(harness: Harness, inp: TrainInput, kind: str = "PyTorchJob") -> dict[str, object]:
    api = "batch/v1" if kind == "Job" else "kubeflow.org/v1"
    return await playbook.eventually(
        lambda: playbook.get(harness.kube, api, kind, _job_name(inp, kind.lower())), what=f"the {kind}"
    )


async def _progress(handle: WorkflowHandle[TrainWorkflow, TrainResult], phase: str) -> RunProgress | None:
    progress = await handle.query(TrainWorkflow.progress)
    return progress if progress.phase == phase else None


_SUCCEEDED = {
    "replicaStatuses": {"Master": {"active": 0, "succeeded": 1}, "Worker": {"active": 0, "succeeded": 1}},
    "conditions": [
        {"type": "Created", "status": "True", "reason": "PyTorchJobCreated"},
        {"type": "Running", "status": "False", "reason": "PyTorchJobRunning"},
        {"type": "Succeeded", "status": "True", "reason": "PyTorchJobSucceeded", "message": "job succeeded"},
    ],
}


async def test_successful_training_reports_metrics_and_keeps_the_job(harness: Harness) -> None:
    inp, handle = await _start(harness)
    job = await _job(harness, inp)
    name = _job_name(inp)
    assert job["metadata"]["labels"] == run_labels(
        id_label="dev.mnist", revision=inp.revision, action="train"
    )  # type: ignore[index]
    pull = await playbook.get(harness.kube, "v1", "Secret", f"train-registry-{inp.revision[:16]}")
    assert pull is not None and pull["type"] == "kubernetes.io/dockerconfigjson"
    assert harness.cluster.token in base64.b64decode(pull["data"][".dockerconfigjson"]).decode() or (
        base64.b64encode(f"kaptain:{harness.cluster.token}".encode()).decode()
        in base64.b64decode(pull["data"][".dockerconfigjson"]).decode()
    )

    await playbook.set_status(
        harness,
        "kubeflow.org/v1",
        "PyTorchJob",
        name,
        {
            "replicaStatuses": {"Master": {"active": 1}, "Worker": {"active": 1}},
            "conditions": [
                {"type": "Created", "status": "True", "reason": "PyTorchJobCreated"},
                {"type": "Running", "status": "True", "reason": "PyTorchJobRunning"},
            ],
        },
    )
    progress = await playbook.eventually(lambda: _progress(handle, "Running"), what="Running")
    assert (progress.job_kind, progress.job_name, progress.pods_running) == ("PyTorchJob", name, 2)

    playbook.write_metrics(harness, inp, {"accuracy": 0.93, "loss": "0.21"})
    await playbook.set_status(harness, "kubeflow.org/v1", "PyTorchJob", name, _SUCCEEDED)
    result = await handle.result()
    assert result.status == "Succeeded"
    assert result.metrics == {"accuracy": 0.93, "loss": "0.21"}
    assert result.hyperparameters == {"--epochs": "2"}
    assert result.model_uri == f"{harness.storage_uri}/dev/mnist/trained/{inp.revision}"
    assert (result.job_kind, result.job_name, result.build_skipped, result.job_deleted) == (
        "PyTorchJob",
        name,
        True,
        False,
    )
    # Secrets go, the job stays for troubleshooting.
    assert await playbook.labelled_objects(harness.kube) == [f"PyTorchJob/{name}"]
    assert (await handle.query(TrainWorkflow.progress)).phase == "Done"
    assert await _outcome(handle) == "Succeeded"


async def test_force_cleanup_deletes_the_finished_job(harness: Harness) -> None:
    inp, handle = await _start(harness, force_cleanup=True, framework="tensorflow", workers=1)
    await _job(harness, inp, "TFJob")
    await playbook.set_status(
        harness,
        "kubeflow.org/v1",
        "TFJob",
        _job_name(inp, "tfjob"),
        {"conditions": [{"type": "Succeeded", "status": "True", "reason": "TFJobSucceeded"}]},
    )
    result = await handle.result()
    assert result.status == "Succeeded" and result.job_deleted and result.metrics == {}
    assert await playbook.labelled_objects(harness.kube) == []


async def test_failed_training_is_a_result_with_the_reason(harness: Harness) -> None:
    inp, handle = await _start(harness, framework="sklearn", workers=1)
    await _job(harness, inp, "Job")
    name = _job_name(inp, "job")
    labels = run_labels(id_label="dev.mnist", revision=inp.revision, action="train")
    await playbook.fail_pod(harness, name=f"{name}-x7k2p", labels=labels, container="sklearn", exit_code=1)
    await playbook.set_status(
        harness,
        "batch/v1",
        "Job",
        name,
        {
            "failed": 1,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        },
    )
    result = await handle.result()
    assert result.status == "Failed"
    assert "backoff limit" in result.reason and f"{name}-x7k2p/sklearn exited with 1" in result.reason
    # The failed job and its pod stay for troubleshooting; the secrets are gone.
    assert await playbook.labelled_objects(harness.kube) == [f"Job/{name}", f"Pod/{name}-x7k2p"]
    # Listings tell this completed run from a successful one.
    assert await _outcome(handle) == "Failed"


async def test_cancelling_deletes_everything_the_run_created(harness: Harness) -> None:
    inp, handle = await _start(harness)
    await _job(harness, inp)
    labels = run_labels(id_label="dev.mnist", revision=inp.revision, action="train")
    await playbook.fail_pod(
        harness, name=f"{_job_name(inp)}-master-0", labels=labels, container="pytorch", exit_code=0
    )
    assert len(await playbook.labelled_objects(harness.kube)) == 3  # job, pull secret, pod
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    assert isinstance(err.value.cause, CancelledError)
    # The run closed only after its objects were gone.
    assert await playbook.labelled_objects(harness.kube) == []
    assert await _outcome(handle) is None


async def test_timeout_deletes_everything_and_reports_timed_out(harness: Harness) -> None:
    inp, handle = await _start(harness, timeout_seconds=3)
    await _job(harness, inp)
    result = await asyncio.wait_for(handle.result(), 30)
    assert result.status == "TimedOut" and "3 s" in result.reason and result.job_deleted
    assert await playbook.labelled_objects(harness.kube) == []
    assert await _outcome(handle) == "TimedOut"


async def test_history_holds_no_credentials(harness: Harness) -> None:
    with s3_server() as s3:
        storage = _s3_storage(harness, s3)
        inp, handle = await _start(harness, storage=storage)
        await _job(harness, inp)
        secret = await playbook.get(harness.kube, "v1", "Secret", f"train-{inp.revision[:16]}")
        assert secret is not None
        assert base64.b64decode(secret["data"]["AWS_SECRET_ACCESS_KEY"]).decode() == samples.S3_SECRET_KEY
        await playbook.set_status(harness, "kubeflow.org/v1", "PyTorchJob", _job_name(inp), _SUCCEEDED)
        result = await handle.result()
        assert result.status == "Succeeded"
        history = playbook.history_text((await handle.fetch_history()).to_json_dict())
        build_history = playbook.history_text(
            (
                await harness.client.get_workflow_handle(
                    f"kaptain/dev/mnist/build/{inp.build.revision}"
                ).fetch_history()
            ).to_json_dict()
        )
    auth = base64.b64encode(f"kaptain:{harness.cluster.token}".encode()).decode()
    for text in (history, build_history):
        for secret_value in (samples.S3_SECRET_KEY, harness.cluster.token, auth):
            assert secret_value not in text
            assert base64.b64encode(secret_value.encode()).decode() not in text
    # The search covers the payloads: the run's own steps are found in them.
    assert f"train-registry-{inp.revision[:16]}" in history and "AWS_SECRET_ACCESS_KEY" not in history


def _s3_storage(harness: Harness, s3: S3Server) -> StorageSpec:
    return StorageSpec(
        base_uri=f"s3://{s3.bucket}/models", credentials=harness.sealer.seal(json.dumps(s3.env()))
    )


async def _outcome(handle: WorkflowHandle[Any, Any]) -> str | None:
    """The run's ``KaptainOutcome`` search attribute."""
    return (await handle.describe()).typed_search_attributes.get(KAPTAIN_OUTCOME)
