"""The contracts: names, labels, validation of inputs, sealing of credentials."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from kaptain.platform import constants
from kaptain.workflows import errors, names, search_attributes
from kaptain.workflows.objects import ObjectRef, ObjectStatus
from kaptain.workflows.sealed import ENCRYPTION_KEY_ENV, Sealed, Sealer, UnsealError
from kaptain.workflows.specs import StorageSpec, TrainInput, flag_args, workload_kind
from kaptain.workflows.storage import context_uri, metrics_uri, trained_uri
from tests.workflows import samples


def test_label_keys_match_the_sdk_constants() -> None:
    assert names.MANAGED_BY_LABEL == constants.MANAGED_BY_LABEL
    assert names.MANAGED_BY_VALUE == constants.MANAGED_BY_VALUE
    assert names.MODEL_ID_LABEL == constants.MODEL_ID_LABEL
    assert names.REVISION_LABEL == constants.REVISION_LABEL
    assert names.ACTION_LABEL == constants.ACTION_LABEL


def test_names_derive_from_the_revision() -> None:
    revision = "1a2b3c4d5e6f70819293a4b5c6d7e8f9"
    assert names.workflow_id("dev/mnist", "train", revision) == f"kaptain/dev/mnist/train/{revision}"
    assert names.workload_name("mnist", "pytorchjob", revision) == "mnist-pytorchjob-1a2b3c4d"
    assert names.build_names(revision) == (
        "kaniko-1a2b3c4d5e6f7081",
        "docker-1a2b3c4d5e6f7081",
        "context-1a2b3c4d5e6f7081",
    )
    assert names.train_secret_names(revision) == ("train-1a2b3c4d5e6f7081", "train-registry-1a2b3c4d5e6f7081")
    assert names.run_selector(revision=revision, action="build") == (
        f"app.kubernetes.io/managed-by=kaptain,kaptain.io/revision={revision},kaptain.io/action=build"
    )


def test_search_attributes_of_a_run() -> None:
    attrs = search_attributes.run_search_attributes(model_id="dev/mnist", action="train", revision="ab" * 16)
    assert attrs.get(search_attributes.KAPTAIN_MODEL_ID) == "dev/mnist"
    assert attrs.get(search_attributes.KAPTAIN_ACTION) == "train"
    assert attrs.get(search_attributes.KAPTAIN_REVISION) == "ab" * 16
    assert [k.name for k in search_attributes.ALL] == [
        "KaptainModelId",
        "KaptainAction",
        "KaptainRevision",
        "KaptainOutcome",
    ]


def test_storage_layout() -> None:
    assert (
        trained_uri("s3://kaptain/models/", "dev/mnist", "ab" * 16)
        == f"s3://kaptain/models/dev/mnist/trained/{'ab' * 16}"
    )
    assert (
        context_uri("file:///data", "dev/mnist", "c" * 32)
        == f"file:///data/dev/mnist/contexts/{'c' * 32}.tar.gz"
    )
    assert metrics_uri("s3://b/x/trained/r/") == "s3://b/x/trained/r/metrics.json"


def test_flags_and_kinds() -> None:
    assert flag_args({"--epochs": "5", "--lr": "0.1"}, {"--log-interval": "10"}) == [
        "--epochs=5",
        "--lr=0.1",
        "--log-interval=10",
    ]
    assert workload_kind("tensorflow") == "TFJob"
    assert workload_kind("pytorch") == "PyTorchJob"
    assert workload_kind("sklearn") == "Job"


def test_train_input_rejects_bad_values() -> None:
    sealer = samples.new_sealer()
    good = samples.train_input(sealer).model_dump()
    with pytest.raises(ValidationError, match="revision"):
        TrainInput.model_validate({**good, "revision": "not-hex"})
    with pytest.raises(ValidationError, match="workers"):
        TrainInput.model_validate({**good, "workers": 0})
    with pytest.raises(ValidationError, match="flag names"):
        TrainInput.model_validate({**good, "hyperparameters": {"--a b": "1"}})
    with pytest.raises(ValidationError, match="framework"):
        TrainInput.model_validate({**good, "framework": "Py Torch"})
    with pytest.raises(ValidationError, match="credentials"):
        StorageSpec(base_uri="s3://bucket/models")
    with pytest.raises(ValidationError, match="file:// or s3://"):
        StorageSpec(base_uri="gs://bucket/models")


def test_sealed_values_round_trip_and_never_show() -> None:
    sealer = samples.new_sealer()
    sealed = sealer.seal(samples.S3_SECRET_KEY)
    assert samples.S3_SECRET_KEY not in sealed.token
    assert samples.S3_SECRET_KEY not in repr(sealed) and samples.S3_SECRET_KEY not in str(sealed)
    assert sealer.unseal(sealed) == samples.S3_SECRET_KEY
    # Through JSON, as in workflow history.
    assert sealer.unseal(Sealed.model_validate_json(sealed.model_dump_json())) == samples.S3_SECRET_KEY
    with pytest.raises(UnsealError, match=ENCRYPTION_KEY_ENV):
        samples.new_sealer().unseal(sealed)


def test_key_file_is_created_private_and_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENCRYPTION_KEY_ENV, raising=False)
    first = Sealer.load(tmp_path)
    key_file = tmp_path / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # A second process (the worker) loads the same key from the file.
    assert Sealer.load(tmp_path).unseal(first.seal("x")) == "x"
    # The environment variable wins over the file.
    env_key = Fernet.generate_key()
    monkeypatch.setenv(ENCRYPTION_KEY_ENV, env_key.decode())
    assert Sealer(env_key).unseal(Sealer.load(tmp_path).seal("y")) == "y"
    monkeypatch.setenv(ENCRYPTION_KEY_ENV, "not-a-key")
    with pytest.raises(ValueError, match="Fernet") as err:
        Sealer.load(tmp_path)
    assert "not-a-key" not in str(err.value)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_status_differs_only_in_what_matters() -> None:
    ref = ObjectRef(api_version="kubeflow.org/v1", kind="PyTorchJob", name="mnist-pytorchjob-1a2b3c4d")
    running = ObjectStatus(ref=ref, uid=str(uuid.uuid4()), resource_version="5", phase="Running", active=2)
    assert not running.model_copy(update={"resource_version": "9"}).differs_from(running)
    assert running.model_copy(update={"ready": 1}).differs_from(running)
    assert running.model_copy(update={"phase": "Succeeded"}).differs_from(running)
    assert running.differs_from(None)
    assert running.model_copy(update={"phase": "Deleted"}).terminal
    assert not running.terminal


def test_error_codes_are_stable() -> None:
    # Renaming a code breaks SDKs of other versions: these strings are part of the contract.
    assert errors.INVALID_SPEC == "InvalidSpec"
    assert errors.IMAGE_BUILD_FAILED == "ImageBuildFailed"
    assert errors.WORKLOAD_DEPLOYMENT_FAILED == "WorkloadDeploymentFailed"
    assert errors.TIMEOUT == "Timeout"
    assert set(errors.NON_RETRYABLE) >= {
        errors.INVALID_SPEC,
        errors.IMAGE_BUILD_FAILED,
        errors.OBJECT_CONFLICT,
    }
