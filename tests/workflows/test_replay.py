"""Determinism: histories of real runs replay against the current workflow code.

A change to the workflows that alters the commands they issue (without `workflow.patched`) breaks
runs in flight; replaying histories recorded in these tests catches it.
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from kaptain.workflows.build import BuildWorkflow
from kaptain.workflows.train import TrainWorkflow
from tests.workflows import playbook
from tests.workflows.conftest import Harness
from tests.workflows.images import push_image


async def _replay(harness: Harness, workflow_id: str) -> None:
    history: WorkflowHistory = await harness.client.get_workflow_handle(workflow_id).fetch_history()
    replayer = Replayer(workflows=[BuildWorkflow, TrainWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_histories_of_successful_and_cancelled_runs_replay(harness: Harness) -> None:
    await push_image(harness.cluster, "kaptain/mnist", "v1", {"checksum": "f" * 32})
    # A run with a real build (the checksum differs from the image's) and a training that succeeds.
    build = playbook.build_input(harness, checksum=uuid.uuid4().hex)
    inp = playbook.train_input(harness, build)
    handle = await harness.client.start_workflow(
        TrainWorkflow.run, inp, id=f"replay-{inp.revision}", task_queue=harness.task_queue
    )
    kaniko = f"kaniko-{build.revision[:16]}"
    await playbook.eventually(
        lambda: playbook.get(harness.kube, "batch/v1", "Job", kaniko), what="the build Job"
    )
    await playbook.set_status(
        harness,
        "batch/v1",
        "Job",
        kaniko,
        {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
    )
    name = f"mnist-pytorchjob-{inp.revision[:8]}"
    await playbook.eventually(
        lambda: playbook.get(harness.kube, "kubeflow.org/v1", "PyTorchJob", name), what="the job"
    )
    await playbook.set_status(
        harness,
        "kubeflow.org/v1",
        "PyTorchJob",
        name,
        {"conditions": [{"type": "Succeeded", "status": "True", "reason": "PyTorchJobSucceeded"}]},
    )
    assert (await handle.result()).status == "Succeeded"
    await _replay(harness, handle.id)
    await _replay(harness, f"kaptain/dev/mnist/build/{build.revision}")

    # A cancelled run.
    cancelled = playbook.train_input(harness, playbook.build_input(harness, checksum="f" * 32))
    handle = await harness.client.start_workflow(
        TrainWorkflow.run, cancelled, id=f"replay-{cancelled.revision}", task_queue=harness.task_queue
    )
    await playbook.eventually(
        lambda: playbook.get(
            harness.kube, "kubeflow.org/v1", "PyTorchJob", f"mnist-pytorchjob-{cancelled.revision[:8]}"
        ),
        what="the job",
    )
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await _replay(harness, handle.id)
