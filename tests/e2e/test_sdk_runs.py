"""The SDK's side of runs, without servers: contexts, inputs, error mapping, training-code helpers."""

from __future__ import annotations

import gzip
import io
import json
import logging
import tarfile
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TerminatedError

from kaptain.exceptions import (
    ImageBuildException,
    InvalidModelProperty,
    KaptainException,
    ModelValidationException,
    WorkloadDeploymentError,
)
from kaptain.model.resources import Resources
from kaptain.platform.metadata_util import MetadataUtil
from kaptain.platform.model_export_util import ModelExportUtil
from kaptain.runs import errors as run_errors
from kaptain.runs.context import prepare_context
from kaptain.runs.specs import flags, image_reference, resource_spec
from kaptain.workflows import errors
from tests.e2e.models import make_model, write_project


def _context(project: Path) -> Any:
    return prepare_context(
        base_dir=project,
        base_image="python:3.11",
        main_file="trainer.py",
        extra_files=["helpers.py", "data"],
        requirements=None,
    )


def test_checksum_follows_the_content_only(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    first = _context(project)
    assert len(first.checksum) == 32
    # Caches next to the code and file times do not count.
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "helpers.cpython-311.pyc").write_bytes(b"\0")
    (project / "helpers.py").touch()
    assert _context(project).checksum == first.checksum
    (project / "data" / "sample.csv").write_text("x,y\n1,3\n")
    changed = _context(project)
    assert changed.checksum != first.checksum
    other_base = prepare_context(
        base_dir=project,
        base_image="python:3.12",
        main_file="trainer.py",
        extra_files=["helpers.py", "data"],
        requirements=None,
    )
    assert other_base.checksum != changed.checksum


def test_context_archive_is_reproducible_and_holds_the_dockerfile(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    context = _context(project)
    assert context.tar_gz() == _context(project).tar_gz()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(context.tar_gz()))) as tar:
        names = tar.getnames()
        dockerfile = tar.extractfile("Dockerfile").read().decode()  # type: ignore[union-attr]
    assert names == ["Dockerfile", "data/sample.csv", "helpers.py", "trainer.py"]
    assert dockerfile.splitlines() == [
        "FROM python:3.11",
        f"LABEL checksum={context.checksum}",
        "WORKDIR /kaptain",
        "COPY . /kaptain",
        "RUN if [ -e requirements.txt ]; then pip install --no-cache -r requirements.txt; fi",
        'ENTRYPOINT ["python", "-u", "trainer.py"]',
    ]


def test_image_reference_gets_the_registry_and_a_default_tag(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    model = make_model(
        project, storage_uri=(tmp_path / "m").as_uri(), registry="127.0.0.1:5000", docker_config="{}"
    )
    assert image_reference(model) == "127.0.0.1:5000/kaptain/mnist:dev-mnist-pytorch-2.13.0"
    plain = make_model(project, storage_uri=(tmp_path / "m").as_uri(), registry=None, docker_config="{}")
    assert image_reference(plain) == "kaptain/mnist:dev-mnist-pytorch-2.13.0"


def test_resources_simple_xor_advanced() -> None:
    spec, gpus = resource_spec(cpu="1", memory="2G", gpus=1)
    assert spec.requests == {"cpu": "1", "memory": "2G", "nvidia.com/gpu": "1"}
    assert spec.limits == {"cpu": "1", "memory": "2G", "nvidia.com/gpu": "1"} and gpus == 1
    advanced, _ = resource_spec(resources=Resources(cpu_request="500m", memory_limit="1G"))
    assert advanced.requests == {"cpu": "500m"} and advanced.limits == {"memory": "1G"}
    with pytest.raises(InvalidModelProperty, match="not both") as err:
        resource_spec(cpu="1", resources=Resources(cpu_request="1"))
    assert err.value.property_name == "resources"
    with pytest.raises(InvalidModelProperty, match="memory"):
        resource_spec(memory="lots")


def test_flags_are_stringified_and_checked() -> None:
    assert flags({"--epochs": 5, "--lr": 0.5, "--name": "x"}, "hyperparameters") == {
        "--epochs": "5",
        "--lr": "0.5",
        "--name": "x",
    }
    assert flags(None, "args") == {}
    for bad in ({"--a=b": 1}, {"--a b": 1}, {"": 1}, {"--a": None}):
        with pytest.raises(InvalidModelProperty):
            flags(bad, "hyperparameters")


def _failure(app: ApplicationError) -> WorkflowFailureError:
    activity = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="t",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    activity.__cause__ = app
    return WorkflowFailureError(cause=activity)


def test_error_codes_map_to_the_seed_exceptions() -> None:
    cases = {
        errors.IMAGE_BUILD_FAILED: ImageBuildException,
        errors.WORKLOAD_DEPLOYMENT_FAILED: WorkloadDeploymentError,
        errors.INVALID_SPEC: ModelValidationException,
    }
    for code, expected in cases.items():
        mapped = run_errors.to_exception(_failure(ApplicationError("it broke", type=code)), action="train")
        assert type(mapped) is expected and str(mapped) == "it broke"
        assert run_errors.error_type(_failure(ApplicationError("x", type=code))) == code
    unknown = run_errors.to_exception(_failure(ApplicationError("x", type="Unexpected")), action="train")
    assert type(unknown) is KaptainException
    terminated = run_errors.to_exception(
        WorkflowFailureError(cause=TerminatedError("by admin")), action="build"
    )
    assert str(terminated) == "the build run was terminated"


def test_metadata_util_prints_katib_lines_and_writes_the_metrics_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    upload = tmp_path / "models" / "dev" / "mnist" / "trained" / ("a" * 32)
    monkeypatch.setenv("TRAINED_MODEL_UPLOAD_PATH", upload.as_uri())
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    caplog.set_level(logging.INFO)
    MetadataUtil.record_metrics({"accuracy": 0.9, "loss": "0.3"})
    MetadataUtil.record_metrics({"accuracy": 0.95})
    assert capsys.readouterr().out.splitlines() == ["accuracy=0.9", "loss=0.3", "accuracy=0.95"]
    assert [r.getMessage() for r in caplog.records if r.name == "root"] == [
        "Record metrics.",
        "Metrics saved.",
        "Record metrics.",
        "Metrics saved.",
    ]
    assert json.loads((upload / "metrics.json").read_text()) == {"metrics": {"accuracy": 0.95, "loss": "0.3"}}

    # Other replicas print, but leave the file to the primary one.
    monkeypatch.setenv("RANK", "1")
    MetadataUtil.record_metrics({"accuracy": 0.1})
    assert json.loads((upload / "metrics.json").read_text())["metrics"]["accuracy"] == 0.95
    monkeypatch.delenv("RANK")
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps({"cluster": {"chief": ["a"], "worker": ["b"]}, "task": {"type": "worker", "index": 0}}),
    )
    MetadataUtil.record_metrics({"accuracy": 0.2})
    assert json.loads((upload / "metrics.json").read_text())["metrics"]["accuracy"] == 0.95
    with pytest.raises(ValueError, match="names"):
        MetadataUtil.record_metrics({"bad name": 1})


def test_model_export_util_uploads_files_and_saved_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    upload = tmp_path / "store" / "trained"
    Path("model.pt").write_bytes(b"weights")
    saved = Path("mnist")
    (saved / "variables").mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"pb")
    (saved / "variables" / "v.index").write_bytes(b"idx")
    Path("vocab.txt").write_text("a\n")

    monkeypatch.delenv("TRAINED_MODEL_UPLOAD_PATH", raising=False)
    assert ModelExportUtil().upload_model("model.pt") is None

    monkeypatch.setenv("TRAINED_MODEL_UPLOAD_PATH", upload.as_uri())
    assert ModelExportUtil().upload_model("model.pt", extra_files=["vocab.txt"]) == upload.as_uri()
    assert ModelExportUtil().upload_model("mnist") == upload.as_uri()
    stored = sorted(p.relative_to(upload).as_posix() for p in upload.rglob("*") if p.is_file())
    assert stored == ["0001/saved_model.pb", "0001/variables/v.index", "model.pt", "vocab.txt"]
    with pytest.raises(FileNotFoundError):
        ModelExportUtil().upload_model("missing.pt")


def test_training_helpers_on_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.workflows.servers import s3_server

    with s3_server() as s3:
        for key, value in s3.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("TRAINED_MODEL_UPLOAD_PATH", "s3://kaptain/models/dev/mnist/trained/r1")
        monkeypatch.delenv("RANK", raising=False)
        monkeypatch.delenv("TF_CONFIG", raising=False)
        monkeypatch.chdir(tmp_path)
        Path("model.pt").write_bytes(b"weights")
        ModelExportUtil().upload_model("model.pt")
        MetadataUtil.record_metrics({"accuracy": 0.5})
        client: Any = s3.client()
        body = client.get_object(Bucket="kaptain", Key="models/dev/mnist/trained/r1/model.pt")["Body"].read()
        metrics = client.get_object(Bucket="kaptain", Key="models/dev/mnist/trained/r1/metrics.json")[
            "Body"
        ].read()
    assert body == b"weights"
    assert json.loads(metrics) == {"metrics": {"accuracy": 0.5}}
