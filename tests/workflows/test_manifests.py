"""The manifest builders: what the run submits, validated against the upstream CRDs."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import pytest
import yaml

from kaptain.cluster.apiserver.schema import StructuralSchema
from kaptain.workflows.manifests.kaniko import kaniko_context, kaniko_job_manifest, registry_host
from kaptain.workflows.manifests.secret import secret_manifest
from kaptain.workflows.manifests.training import training_manifest
from kaptain.workflows.names import run_labels
from tests.conftest import CRDS
from tests.workflows import samples


@cache
def _schema(file: str) -> StructuralSchema:
    crd = yaml.safe_load((CRDS / file).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return StructuralSchema(version["schema"]["openAPIV3Schema"])


def _assert_valid(manifest: dict[str, Any], crd_file: str) -> None:
    schema = _schema(crd_file)
    pruned = schema.prune(copy.deepcopy(manifest))
    assert pruned == manifest, "the CRD does not declare some generated fields"
    causes = schema.validate(manifest)
    assert not causes, causes


def _template(manifest: dict[str, Any], replica: str) -> dict[str, Any]:
    specs = manifest["spec"].get("pytorchReplicaSpecs") or manifest["spec"].get("tfReplicaSpecs")
    return specs[replica]["template"]


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_pytorchjob_has_a_master_and_workers(workers: int) -> None:
    inp = samples.train_input(samples.new_sealer(), framework="pytorch", workers=workers, ttl=600)
    manifest = training_manifest(inp, "127.0.0.1:5000/kaptain/mnist:v1")
    _assert_valid(manifest, "kubeflow.org_pytorchjobs.yaml")
    assert manifest["kind"] == "PyTorchJob"
    assert manifest["metadata"]["name"] == f"mnist-pytorchjob-{inp.revision[:8]}"
    replicas = manifest["spec"]["pytorchReplicaSpecs"]
    assert replicas["Master"]["replicas"] == 1
    assert ("Worker" in replicas) == (workers > 1)
    if workers > 1:
        assert replicas["Worker"]["replicas"] == workers - 1
    assert manifest["spec"]["runPolicy"]["ttlSecondsAfterFinished"] == 600
    container = _template(manifest, "Master")["spec"]["containers"][0]
    assert container["name"] == "pytorch"
    assert container["args"] == ["--epochs=2", "--lr=0.01", "--log-interval=10"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TRAINED_MODEL_UPLOAD_PATH"] == f"file:///tmp/kaptain-models/dev/mnist/trained/{inp.revision}"
    assert env["MODEL_LIFECYCLE_PHASE"] == "training"
    # file:// storage has no credentials, so no storage Secret is referenced.
    assert "envFrom" not in container


def test_tfjob_has_a_chief_and_workers_and_storage_secret() -> None:
    inp = samples.train_input(
        samples.new_sealer(), framework="tensorflow", workers=3, base_uri="s3://kaptain/models"
    )
    manifest = training_manifest(inp, "127.0.0.1:5000/kaptain/mnist:v1")
    _assert_valid(manifest, "kubeflow.org_tfjobs.yaml")
    replicas = manifest["spec"]["tfReplicaSpecs"]
    assert replicas["Chief"]["replicas"] == 1 and replicas["Worker"]["replicas"] == 2
    template = _template(manifest, "Chief")
    container = template["spec"]["containers"][0]
    assert container["name"] == "tensorflow"
    assert container["envFrom"] == [{"secretRef": {"name": f"train-{inp.revision[:16]}"}}]
    assert template["spec"]["imagePullSecrets"] == [{"name": f"train-registry-{inp.revision[:16]}"}]
    assert template["metadata"]["labels"] == run_labels(
        id_label="dev.mnist", revision=inp.revision, action="train"
    )
    assert template["metadata"]["annotations"]["kaptain.io/model-id"] == "dev/mnist"
    # No credential values appear in what the workflow submits (and records in its history).
    assert samples.S3_SECRET_KEY not in json.dumps(manifest)


def test_other_frameworks_train_as_a_job_with_a_container_named_after_them() -> None:
    inp = samples.train_input(samples.new_sealer(), framework="sklearn", workers=1)
    manifest = training_manifest(inp, "img:1")
    assert (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job")
    assert manifest["metadata"]["name"] == f"mnist-job-{inp.revision[:8]}"
    spec = manifest["spec"]
    assert spec["backoffLimit"] == 0 and spec["completions"] == 1 and "ttlSecondsAfterFinished" not in spec
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["name"] == "sklearn"


def test_kaniko_job_for_file_and_s3_contexts() -> None:
    sealer = samples.new_sealer()
    inp = samples.build_input(sealer, ca="-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
    job = kaniko_job_manifest(inp)
    assert job["metadata"]["name"] == f"kaniko-{inp.revision[:16]}"
    assert job["metadata"]["labels"]["kaptain.io/action"] == "build"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "kaniko"
    assert container["image"].startswith("gcr.io/kaniko-project/executor:")
    assert container["args"] == [
        f"--context=tar:///tmp/kaptain-models/dev/mnist/contexts/{inp.checksum}.tar.gz",
        "--dockerfile=Dockerfile",
        f"--destination={inp.image}",
        "--registry-certificate=127.0.0.1:5000=/kaniko/.docker/ca.crt",
    ]
    assert "envFrom" not in container
    volume = job["spec"]["template"]["spec"]["volumes"][0]
    assert volume["secret"]["secretName"] == f"docker-{inp.revision[:16]}"

    s3 = kaniko_job_manifest(samples.build_input(sealer, base_uri="s3://kaptain/models"))
    s3_container = s3["spec"]["template"]["spec"]["containers"][0]
    assert s3_container["args"][0].startswith("--context=s3://kaptain/models/dev/mnist/contexts/")
    assert s3_container["envFrom"][0]["secretRef"]["name"].startswith("context-")
    assert samples.DOCKER_PASSWORD not in json.dumps(s3)


def test_registry_hosts_and_contexts() -> None:
    assert registry_host("127.0.0.1:5000/a/b:c") == "127.0.0.1:5000"
    assert registry_host("localhost/a") == "localhost"
    assert registry_host("kaptain/mnist:1") == "docker.io"
    assert registry_host("mnist") == "docker.io"
    assert kaniko_context("file:///a%20b/c.tar.gz") == "tar:///a b/c.tar.gz"
    assert kaniko_context("s3://b/k.tar.gz") == "s3://b/k.tar.gz"


def test_secret_manifest_encodes_data() -> None:
    secret = secret_manifest(name="s", labels={"a": "b"}, annotations={}, data={"k": "välue"}, type="Opaque")
    assert secret["data"] == {"k": "dsOkbHVl"}
    assert secret["metadata"] == {"name": "s", "labels": {"a": "b"}}
