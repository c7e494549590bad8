"""The TFJob and PyTorchJob samples of the reference notes validate upstream and run here."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from kaptain.cluster.apiserver.interface import ApiCore, Object
from tests.cluster.controllers.helpers import assert_valid_upstream, eventually, is_true, list_pods, rt
from tests.conftest import SHARED

REFERENCE = SHARED / "reference" / "kubeflow.md"


def _samples() -> list[Object]:
    found: list[Object] = []
    for block in re.findall(r"```yaml\n(.*?)```", REFERENCE.read_text(), re.S):
        for doc in yaml.safe_load_all(block):
            if isinstance(doc, dict) and doc.get("kind") in ("TFJob", "PyTorchJob"):
                found.append(doc)
    return found


SAMPLES = _samples()


def test_the_reference_has_both_samples() -> None:
    assert sorted(s["kind"] for s in SAMPLES) == ["PyTorchJob", "TFJob"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: str(s["kind"]))
def test_reference_samples_validate_against_the_upstream_crds(sample: Object) -> None:
    assert_valid_upstream(sample)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: str(s["kind"]))
async def test_reference_samples_get_their_replica_pods(controllers: ApiCore, sample: Object) -> None:
    core = controllers
    namespace = str(sample["metadata"].get("namespace") or "default")
    if namespace != "default":
        await core.create(rt(core, "", "v1", "namespaces"), None, {"metadata": {"name": namespace}})
    plural = "pytorchjobs" if sample["kind"] == "PyTorchJob" else "tfjobs"
    jobs = rt(core, "kubeflow.org", "v1", plural)
    created = await core.create(jobs, namespace, sample)
    name = created["metadata"]["name"]
    field = "pytorchReplicaSpecs" if sample["kind"] == "PyTorchJob" else "tfReplicaSpecs"
    specs: dict[str, Any] = sample["spec"][field]
    wanted = sorted(
        f"{name}-{rtype.lower()}-{i}"
        for rtype, spec in specs.items()
        for i in range(int(spec.get("replicas", 1)))
    )

    async def replicas() -> list[str] | None:
        names = [
            p["metadata"]["name"]
            for p in await list_pods(core, f"training.kubeflow.org/job-name={name}", namespace)
        ]
        return names if sorted(names) == wanted else None

    await eventually(replicas, what=f"pods {wanted}")
    job = await core.get(jobs, namespace, name)
    assert is_true(job, "Created")
