"""The TFJob/PyTorchJob manifests of the end-to-end tests and the benchmark are valid for the upstream
CRDs in `../shared/crds` (so they would be accepted, unpruned, by a real cluster too)."""

from __future__ import annotations

import copy
import importlib.util
import sys
from functools import cache
from types import ModuleType

import pytest

from tests.cluster.e2e.manifests import pytorchjob, tfjob, upstream_causes
from tests.cluster.e2e.test_kubectl import TF_CONFIG_PRINTER
from tests.conftest import ROOT

IMAGE = "127.0.0.1:5000/kaptain/e2e:v1"


@cache
def _bench() -> ModuleType:
    """`bench/training.py` (not a package) loaded as a module."""
    spec = importlib.util.spec_from_file_location("bench_training", ROOT / "bench" / "training.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_training"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_pytorchjobs_validate(workers: int) -> None:
    assert upstream_causes(pytorchjob("train", IMAGE, workers=workers)) == []
    assert upstream_causes(pytorchjob("train", IMAGE, workers=workers, command=["python", "-c", "1"])) == []


def test_tfjob_validates() -> None:
    assert upstream_causes(tfjob("tf-e2e", workers=2, command=TF_CONFIG_PRINTER)) == []


def test_benchmark_pytorchjob_validates() -> None:
    assert upstream_causes(_bench().pytorchjob_manifest("bench", 2, "print(1)")) == []


def test_the_check_catches_schema_violations_and_undeclared_fields() -> None:
    wrong_type = pytorchjob("train", IMAGE)
    wrong_type["spec"]["pytorchReplicaSpecs"]["Master"]["replicas"] = "one"
    causes = upstream_causes(wrong_type)
    assert [c["field"] for c in causes] == ["spec.pytorchReplicaSpecs.Master.replicas"]

    bad_policy = pytorchjob("train", IMAGE)
    bad_policy["spec"]["runPolicy"]["backoffLimit"] = "three"
    assert [c["field"] for c in upstream_causes(bad_policy)] == ["spec.runPolicy.backoffLimit"]

    undeclared = copy.deepcopy(tfjob("tf-e2e", workers=1, command=["python"]))
    undeclared["spec"]["tfReplicaSpecs"]["Worker"]["replica"] = 2
    assert [c["message"] for c in upstream_causes(undeclared)] == ["undeclared fields would be pruned"]
