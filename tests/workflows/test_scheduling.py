"""Scheduling feedback: a run's pod that no node can take is reported, then fails the run.

The pods here are written as a scheduler reports them (the embedded cluster's own scheduler is
tested in tests/cluster); the runs are real workflows on Temporal's dev server.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from kaptain.workflows.errors import WORKLOAD_DEPLOYMENT_FAILED
from kaptain.workflows.names import run_labels
from kaptain.workflows.specs import RunProgress, TrainInput, TrainResult
from kaptain.workflows.train import TrainWorkflow
from tests.workflows import playbook
from tests.workflows.conftest import Harness
from tests.workflows.images import push_image

_NO_GPU = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
_SUCCEEDED = {"conditions": [{"type": "Succeeded", "status": "True", "reason": "PyTorchJobSucceeded"}]}


async def _start(
    harness: Harness, *, schedule_timeout_seconds: int
) -> tuple[TrainInput, WorkflowHandle[TrainWorkflow, TrainResult], str]:
    checksum = uuid.uuid4().hex
    await push_image(harness.cluster, "kaptain/mnist", "v1", {"checksum": checksum})
    inp = playbook.train_input(
        harness,
        playbook.build_input(harness, checksum=checksum),
        schedule_timeout_seconds=schedule_timeout_seconds,
    )
    handle = await harness.client.start_workflow(
        TrainWorkflow.run, inp, id=f"train-{inp.revision}", task_queue=harness.task_queue
    )
    name = f"mnist-pytorchjob-{inp.revision[:8]}"
    await playbook.eventually(
        lambda: playbook.get(harness.kube, "kubeflow.org/v1", "PyTorchJob", name), what="the job"
    )
    labels = run_labels(id_label="dev.mnist", revision=inp.revision, action="train")
    await playbook.unschedulable_pod(harness, name=f"{name}-worker-0", labels=labels, message=_NO_GPU)
    return inp, handle, name


async def _reported(handle: WorkflowHandle[TrainWorkflow, TrainResult]) -> RunProgress | None:
    progress = await handle.query(TrainWorkflow.progress)
    return progress if progress.unschedulable else None


async def test_a_pod_no_node_can_take_fails_the_run_and_nothing_is_left(harness: Harness) -> None:
    _, handle, name = await _start(harness, schedule_timeout_seconds=2)
    # Said at once in the progress...
    progress = await playbook.eventually(lambda: _reported(handle), what="the unschedulable pod reported")
    assert progress.unschedulable == f"{name}-worker-0: {_NO_GPU}"
    # ... and after the schedule timeout the run fails with the scheduler's message.
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), 30)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == WORKLOAD_DEPLOYMENT_FAILED
    assert cause.non_retryable
    assert f"pod {name}-worker-0: {_NO_GPU}" in cause.message and "more than 2 s" in cause.message
    # Like a cancelled run, it deleted everything it created: the job, its pods, the secrets.
    assert await playbook.labelled_objects(harness.kube) == []


async def test_a_pod_placed_before_the_timeout_lets_the_run_go_on(harness: Harness) -> None:
    _, handle, name = await _start(harness, schedule_timeout_seconds=4)
    await playbook.eventually(lambda: _reported(handle), what="the unschedulable pod reported")
    await playbook.set_status(
        harness,
        "v1",
        "Pod",
        f"{name}-worker-0",
        {"conditions": [{"type": "PodScheduled", "status": "True"}], "phase": "Running"},
    )

    async def cleared() -> RunProgress | None:
        progress = await handle.query(TrainWorkflow.progress)
        return progress if not progress.unschedulable else None

    await playbook.eventually(cleared, what="the report cleared")
    await asyncio.sleep(5)  # past the schedule timeout
    await playbook.set_status(harness, "kubeflow.org/v1", "PyTorchJob", name, _SUCCEEDED)
    assert (await asyncio.wait_for(handle.result(), 30)).status == "Succeeded"


async def test_a_node_on_its_way_is_waited_for(harness: Harness) -> None:
    _, handle, name = await _start(harness, schedule_timeout_seconds=2)
    # cluster-autoscaler's event on the pod: a node that fits is being added.
    await harness.kube.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name}-worker-0.scaleup"},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": f"{name}-worker-0",
                "namespace": harness.kube.namespace,
            },
            "reason": "TriggeredScaleUp",
            "message": "pod triggered scale-up: [{gpu-pool 0->1 (max: 4)}]",
            "type": "Normal",
            "source": {"component": "cluster-autoscaler"},
        }
    )
    await playbook.eventually(lambda: _reported(handle), what="the unschedulable pod reported")
    await asyncio.sleep(5)  # past the schedule timeout, twice
    await playbook.set_status(harness, "kubeflow.org/v1", "PyTorchJob", name, _SUCCEEDED)
    assert (await asyncio.wait_for(handle.result(), 30)).status == "Succeeded"


async def test_a_zero_schedule_timeout_only_reports(harness: Harness) -> None:
    _, handle, name = await _start(harness, schedule_timeout_seconds=0)
    await playbook.eventually(lambda: _reported(handle), what="the unschedulable pod reported")
    await asyncio.sleep(3)
    await playbook.set_status(harness, "kubeflow.org/v1", "PyTorchJob", name, _SUCCEEDED)
    assert (await asyncio.wait_for(handle.result(), 30)).status == "Succeeded"
