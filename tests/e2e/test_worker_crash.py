"""Crashes: a worker killed with SIGKILL while a training job runs (a new worker finishes the run,
and the job is created exactly once), and a caller that dies while awaiting (the run goes on)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import pytest

from kaptain.activities.kubernetes.client import KubeError
from kaptain.workflows.names import MODEL_ID_LABEL
from kaptain.workflows.specs import TrainResult
from tests.conftest import ROOT
from tests.e2e.conftest import Stack
from tests.e2e.models import default_model, write_project
from tests.workflows import playbook

pytestmark = pytest.mark.slow


async def _record_creations(stack: Stack, selector: str, created: list[str]) -> None:
    """Every PyTorchJob ADDED for ``selector``, from before the run starts (uids)."""
    listed = await stack.kube.list_objects("kubeflow.org/v1", "PyTorchJob", label_selector=selector)
    version = listed["metadata"]["resourceVersion"]
    created += [item["metadata"]["uid"] for item in listed.get("items", [])]
    while True:
        try:
            async for event in stack.kube.watch(
                "kubeflow.org/v1", "PyTorchJob", resource_version=version, timeout_seconds=30
            ):
                version = event.object.get("metadata", {}).get("resourceVersion", version)
                labels = event.object.get("metadata", {}).get("labels") or {}
                if event.type == "ADDED" and labels.get(MODEL_ID_LABEL) == "e2e.crash":
                    created.append(event.object["metadata"]["uid"])
        except KubeError as err:
            if err.status != 410:
                raise
            listed = await stack.kube.list_objects("kubeflow.org/v1", "PyTorchJob", label_selector=selector)
            version = listed["metadata"]["resourceVersion"]


async def test_a_new_worker_completes_the_run_after_a_crash(stack: Stack, tmp_path: Path) -> None:
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/crash")
    assert await model.build() is True
    created: list[str] = []
    recorder = asyncio.create_task(_record_creations(stack, f"{MODEL_ID_LABEL}=e2e.crash", created))
    try:
        await asyncio.sleep(0.5)
        call = asyncio.create_task(model.train({"--epochs": 2}, args={"--sleep": 6}, workers=2))
        await playbook.eventually(
            lambda: _pods_running(stack, "e2e.crash"), within=60, what="the training pods running"
        )
        await stack.kill_worker()
        await asyncio.sleep(1)
        await stack.start_worker()
        assert await asyncio.wait_for(call, 120) is True
        await asyncio.sleep(0.5)
    finally:
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder
    assert len(created) == 1, f"training jobs created: {created}"
    job = await stack.kube.get("kubeflow.org/v1", "PyTorchJob", f"mnist-pytorchjob-{model.revision[:8]}")
    assert job["metadata"]["uid"] == created[0]


async def _pods_running(stack: Stack, id_label: str) -> bool:
    listed = await stack.kube.list_objects(
        "v1", "Pod", label_selector=f"{MODEL_ID_LABEL}={id_label},kaptain.io/action=train"
    )
    return sum(1 for p in listed.get("items", []) if (p.get("status") or {}).get("phase") == "Running") >= 2


_CALLER = """
import asyncio, sys
from pathlib import Path
from tests.e2e.models import default_model

async def main() -> None:
    model = default_model(Path(sys.argv[1]), model_id="e2e/caller")
    print("training", flush=True)
    await model.train({"--epochs": 2}, args={"--sleep": 4}, workers=2)

asyncio.run(main())
"""


async def test_the_run_goes_on_when_the_caller_dies(stack: Stack, tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    caller = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CALLER,
        str(project),
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await playbook.eventually(
            lambda: _pods_running(stack, "e2e.caller"), within=60, what="the training pods"
        )
    finally:
        caller.kill()
        await caller.wait()
    runs = [
        run
        async for run in stack.temporal.client.list_workflows(
            "KaptainModelId = 'e2e/caller' AND KaptainAction = 'train'"
        )
    ]
    assert len(runs) == 1
    result = await asyncio.wait_for(
        stack.temporal.client.get_workflow_handle(runs[0].id, result_type=TrainResult).result(), 60
    )
    assert result.status == "Succeeded" and result.hyperparameters == {"--epochs": "2"}
    revision = runs[0].id.rsplit("/", 1)[1]
    assert (
        stack.home / "storage" / "models" / "e2e" / "caller" / "trained" / revision / "model.json"
    ).exists()
