"""`BuildWorkflow` on Temporal's dev server with the real activities over an embedded API server.

The test plays the Job controller (it writes the build Job's status); the e2e tests run the real one.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from temporalio.client import WorkflowFailureError

from kaptain.runs.errors import application_error
from kaptain.workflows.build import BuildWorkflow
from kaptain.workflows.errors import IMAGE_BUILD_FAILED
from kaptain.workflows.names import run_labels
from kaptain.workflows.search_attributes import KAPTAIN_OUTCOME
from kaptain.workflows.specs import RunProgress
from tests.workflows import playbook
from tests.workflows.conftest import Harness
from tests.workflows.images import push_image


async def test_build_is_skipped_when_the_registry_has_the_same_contents(harness: Harness) -> None:
    checksum = uuid.uuid4().hex
    await push_image(harness.cluster, "kaptain/mnist", "v1", {"checksum": checksum})
    inp = playbook.build_input(harness, checksum=checksum)
    started = time.monotonic()
    result = await harness.client.execute_workflow(
        BuildWorkflow.run, inp, id=f"build-{inp.revision}", task_queue=harness.task_queue
    )
    elapsed = time.monotonic() - started
    assert result.skipped and result.image == inp.image and result.job_name is None
    assert elapsed < 2.0
    described = await harness.client.get_workflow_handle(f"build-{inp.revision}").describe()
    assert described.typed_search_attributes.get(KAPTAIN_OUTCOME) == "Skipped"
    assert await playbook.labelled_objects(harness.kube) == []


async def test_build_runs_kaniko_and_deletes_its_objects(harness: Harness) -> None:
    # An image of other contents is there: it must be rebuilt.
    await push_image(harness.cluster, "kaptain/mnist", "v1", {"checksum": "0" * 32})
    checksum = uuid.uuid4().hex
    inp = playbook.build_input(harness, checksum=checksum)
    contexts = harness.storage_dir / "dev" / "mnist" / "contexts"
    contexts.mkdir(parents=True)
    (contexts / f"{checksum}.tar.gz").write_bytes(b"current")
    (contexts / f"{'1' * 32}.tar.gz").write_bytes(b"older")

    handle = await harness.client.start_workflow(
        BuildWorkflow.run, inp, id=f"build-{inp.revision}", task_queue=harness.task_queue
    )
    job_name, docker_secret, _ = f"kaniko-{inp.revision[:16]}", f"docker-{inp.revision[:16]}", None
    job = await playbook.eventually(
        lambda: playbook.get(harness.kube, "batch/v1", "Job", job_name), what="the build Job"
    )
    assert job["metadata"]["labels"] == run_labels(
        id_label="dev.mnist", revision=inp.revision, action="build"
    )
    secret = await playbook.get(harness.kube, "v1", "Secret", docker_secret)
    assert secret is not None
    config = json.loads(base64.b64decode(secret["data"]["config.json"]))
    assert harness.cluster.server.info.registry in config["auths"]
    assert base64.b64decode(secret["data"]["ca.crt"]).decode() == harness.cluster.ca_file.read_text()

    await playbook.set_status(harness, "batch/v1", "Job", job_name, {"active": 1, "ready": 1})
    progress = await playbook.eventually(
        lambda: _phase(handle, "Running"), what="the Running phase in the progress query"
    )
    assert progress.job_name == job_name and progress.pods_running == 1
    await playbook.set_status(
        harness,
        "batch/v1",
        "Job",
        job_name,
        {"active": 0, "ready": 0, "succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
    )
    result = await handle.result()
    assert not result.skipped and result.job_name == job_name
    assert await playbook.labelled_objects(harness.kube) == []
    # The model keeps only the context of its current image.
    assert sorted(p.name for p in contexts.iterdir()) == [f"{checksum}.tar.gz"]


async def test_failed_build_raises_with_the_builders_log_tail(harness: Harness) -> None:
    inp = playbook.build_input(harness, checksum=uuid.uuid4().hex)
    handle = await harness.client.start_workflow(
        BuildWorkflow.run, inp, id=f"build-{inp.revision}", task_queue=harness.task_queue
    )
    job_name = f"kaniko-{inp.revision[:16]}"
    await playbook.eventually(
        lambda: playbook.get(harness.kube, "batch/v1", "Job", job_name), what="the build Job"
    )
    labels = run_labels(id_label="dev.mnist", revision=inp.revision, action="build")
    await playbook.fail_pod(harness, name=f"{job_name}-abcde", labels=labels, container="kaniko", exit_code=1)
    await playbook.set_status(
        harness,
        "batch/v1",
        "Job",
        job_name,
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
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    app = application_error(err.value)
    assert app is not None and app.type == IMAGE_BUILD_FAILED
    assert "backoff limit" in app.message
    assert f"{job_name}-abcde/kaniko exited with 1 (Error)" in app.message
    assert await playbook.labelled_objects(harness.kube) == []


async def _phase(handle: object, phase: str) -> RunProgress | None:
    progress = await handle.query(BuildWorkflow.progress)  # type: ignore[attr-defined]
    assert isinstance(progress, RunProgress)
    return progress if progress.phase == phase else None
