"""Build and train through the SDK, end to end: Temporal, a `kaptain worker` process and the
embedded cluster (`kaptain cluster serve`) running the real builder, Job/PyTorchJob controllers and
kubelet."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from kaptain.exceptions import ImageBuildException, InvalidModelProperty, WorkloadDeploymentError
from kaptain.model.resources import Resources
from kaptain.model.states import ModelState
from kaptain.platform.config.s3 import S3ConfigurationProvider
from kaptain.workflows.names import MANAGED_BY_LABEL, MODEL_ID_LABEL
from tests.e2e.conftest import Stack
from tests.e2e.models import default_model, write_project
from tests.workflows import playbook
from tests.workflows.servers import S3Server

pytestmark = pytest.mark.slow

_KINDS = (
    ("batch/v1", "Job"),
    ("kubeflow.org/v1", "PyTorchJob"),
    ("v1", "Secret"),
    ("v1", "Pod"),
)


async def _objects(stack: Stack, id_label: str) -> list[str]:
    found: list[str] = []
    for api_version, kind in _KINDS:
        listed = await stack.kube.list_objects(
            api_version, kind, label_selector=f"{MANAGED_BY_LABEL}=kaptain,{MODEL_ID_LABEL}={id_label}"
        )
        found += [f"{kind}/{item['metadata']['name']}" for item in listed.get("items", [])]
    return sorted(found)


def _trained(stack: Stack, model_id: str, revision: str) -> Path:
    return stack.home / "storage" / "models" / model_id / "trained" / revision


async def test_build_then_train_a_distributed_pytorch_model(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kaptain-log")
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/basic")
    assert await model.build() is True
    assert any("Image build completed successfully" in r.getMessage() for r in caplog.records)

    caplog.clear()
    started = time.monotonic()
    assert await model.build() is True
    skipped_in = time.monotonic() - started
    assert any("Skipping image build" in r.getMessage() for r in caplog.records)
    assert skipped_in < 1.0, f"a skipped build took {skipped_in:.3f} s"

    before = model.revision
    assert await model.train({"--epochs": 3}, args={"--lr": 0.05}, workers=2, cpu="1", memory="1G") is True
    assert model.state is ModelState.TRAINED
    assert model.revision != before
    assert model.hyperparameters == {"--epochs": 3}
    trained = _trained(stack, "e2e/basic", model.revision)
    artifact = json.loads((trained / "model.json").read_text())
    assert artifact == {"epochs": 3, "lr": 0.05, "world_size": 2}
    metrics = json.loads((trained / "metrics.json").read_text())["metrics"]
    assert metrics == {"accuracy": pytest.approx(0.8), "loss": "0.0250"}
    # Secrets are gone; the job (and its pods) stay for troubleshooting.
    left = await _objects(stack, "e2e.basic")
    assert [o for o in left if o.startswith("Secret/")] == []
    assert f"PyTorchJob/mnist-pytorchjob-{model.revision[:8]}" in left


@pytest.mark.parametrize(("framework", "kind"), [("tensorflow", "TFJob"), ("sklearn", "Job")])
async def test_other_frameworks_train_as_their_kind(
    stack: Stack, tmp_path: Path, framework: str, kind: str
) -> None:
    model_id = f"e2e/{framework}"
    model = default_model(write_project(tmp_path / "project"), model_id=model_id, framework=framework)
    assert await model.train({"--epochs": 2}, workers=2 if kind == "TFJob" else 1) is True
    api_version = "batch/v1" if kind == "Job" else "kubeflow.org/v1"
    job = await stack.kube.get(api_version, kind, f"mnist-{kind.lower()}-{model.revision[:8]}")
    assert job["metadata"]["labels"][MODEL_ID_LABEL] == model_id.replace("/", ".")
    trained = _trained(stack, model_id, model.revision)
    assert json.loads((trained / "model.json").read_text())["epochs"] == 2
    assert json.loads((trained / "metrics.json").read_text())["metrics"]["accuracy"] == pytest.approx(0.7)


async def test_a_failing_build_raises_with_the_builders_log(stack: Stack, tmp_path: Path) -> None:
    model = default_model(
        write_project(tmp_path / "project"),
        model_id="e2e/badbuild",
        image_name="kaptain/e2e-bad:v1",
        base_image="localhost/kaptain-test/no-such-base:1",
    )
    with pytest.raises(ImageBuildException) as err:
        await model.build()
    assert "no-such-base" in str(err.value)
    assert "/kaniko exited with" in str(err.value)
    assert await _objects(stack, "e2e.badbuild") == []


async def test_s3_storage_and_no_credentials_in_history(
    stack: Stack, s3: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = s3.env()
    provider = S3ConfigurationProvider(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        s3_endpoint=s3.endpoint,
        s3_force_path_style=True,
    )
    model = default_model(
        write_project(tmp_path / "project"),
        model_id="e2e/s3",
        image_name="kaptain/e2e-s3:v1",
        storage_config_provider=provider,
        base_model_storage_uri="s3://kaptain/models",
    )
    assert await model.build() is True
    assert await model.build() is True
    assert await model.train({"--epochs": 1}, workers=2) is True
    client: Any = s3.client()
    key = f"models/e2e/s3/trained/{model.revision}/model.json"
    assert json.loads(client.get_object(Bucket="kaptain", Key=key)["Body"].read())["world_size"] == 2

    token = (stack.home / "token").read_text().strip()
    secrets = [env["AWS_SECRET_ACCESS_KEY"], token]
    async for run in stack.temporal.client.list_workflows("KaptainModelId = 'e2e/s3'"):
        history = playbook.history_text(
            (await stack.temporal.client.get_workflow_handle(run.id).fetch_history()).to_json_dict()
        )
        for secret in secrets:
            assert secret not in history, f"{run.id} holds a credential"
    for record in caplog.records:
        for secret in secrets:
            assert secret not in record.getMessage()


async def test_failing_trainer_returns_false_with_the_reason(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kaptain-log")
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/fail")
    revision = model.revision
    assert await model.train({"--epochs": 1}, args={"--exit-code": 1}, workers=2) is False
    assert (
        model.revision == revision and model.state is ModelState.UNTRAINED and model.hyperparameters is None
    )
    failure = next(r.getMessage() for r in caplog.records if "Model training failed" in r.getMessage())
    assert "exited with 1" in failure and "training failed on purpose" in failure


async def test_bad_spec_raises_before_anything_exists(stack: Stack, tmp_path: Path) -> None:
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/badspec")
    with pytest.raises(InvalidModelProperty, match="not both"):
        await model.train({"--epochs": 1}, cpu="1", resources=Resources(cpu_request="1"))
    with pytest.raises(InvalidModelProperty, match="workers"):
        await model.train({"--epochs": 1}, workers=0)
    runs = [run async for run in stack.temporal.client.list_workflows("KaptainModelId = 'e2e/badspec'")]
    assert runs == []
    assert await _objects(stack, "e2e.badspec") == []


async def test_cancelling_the_call_deletes_what_the_run_created(stack: Stack, tmp_path: Path) -> None:
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/cancel")
    call = asyncio.create_task(model.train({"--epochs": 1}, args={"--sleep": 60}, workers=2))
    await playbook.eventually(
        lambda: _running_pods(stack, "e2e.cancel", 2), within=60, what="the training pods running"
    )
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await _objects(stack, "e2e.cancel") == []


async def test_timeout_returns_false_and_deletes_everything(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kaptain-log")
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/timeout")
    assert await model.build() is True
    assert await model.train({"--epochs": 1}, args={"--sleep": 60}, workers=2, timeout=8) is False
    assert any("did not finish within 8 s" in r.getMessage() for r in caplog.records)
    assert await _objects(stack, "e2e.timeout") == []


async def test_a_workload_no_node_can_run_raises_and_deletes_everything(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The embedded node has no GPU: the scheduler leaves the pods Pending, Unschedulable.
    monkeypatch.setenv("KAPTAIN_SDK_SCHEDULE_TIMEOUT", "3")
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/nogpu")
    revision = model.revision
    with pytest.raises(WorkloadDeploymentError) as refused:
        await asyncio.wait_for(model.train({"--epochs": 1}, workers=2, gpus=1), 120)
    message = str(refused.value)
    assert "0/1 nodes are available: 1 Insufficient nvidia.com/gpu." in message
    assert "unschedulable for more than 3 s" in message
    assert model.revision == revision and model.state is ModelState.UNTRAINED
    assert await _objects(stack, "e2e.nogpu") == []


async def _running_pods(stack: Stack, id_label: str, count: int) -> bool:
    listed = await stack.kube.list_objects(
        "v1",
        "Pod",
        label_selector=f"{MANAGED_BY_LABEL}=kaptain,{MODEL_ID_LABEL}={id_label},kaptain.io/action=train",
    )
    return (
        sum(1 for p in listed.get("items", []) if (p.get("status") or {}).get("phase") == "Running") >= count
    )
