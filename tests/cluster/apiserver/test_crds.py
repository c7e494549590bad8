"""CustomResourceDefinitions: our built-in CRDs, upstream CRD files, schema validation, removal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from kaptain.cluster.apiserver.builtin import CUSTOMRESOURCEDEFINITIONS
from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import WatchEvent
from kaptain.cluster.apiserver.resources import ResourceType
from tests.cluster.apiserver.corehelpers import gone, open_core, wait_until
from tests.conftest import CRDS

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(name: str) -> dict[str, Any]:
    docs = [d for d in yaml.load_all((CRDS / name).read_text(), Loader=_Loader) if d]
    assert len(docs) == 1
    return dict(docs[0])


def _rt(core: Core, group: str, version: str, plural: str) -> ResourceType:
    rt = core.registry.get(group, version, plural)
    assert rt is not None, f"{plural}.{group}/{version} is not served"
    return rt


async def test_builtin_crds_are_installed_and_established(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        items, _ = await core.list(CUSTOMRESOURCEDEFINITIONS, None)
        names = {i["metadata"]["name"] for i in items}
        assert names == {
            "tfjobs.kubeflow.org",
            "pytorchjobs.kubeflow.org",
            "experiments.kubeflow.org",
            "trials.kubeflow.org",
            "suggestions.kubeflow.org",
            "inferenceservices.serving.kserve.io",
        }
        for crd in items:
            conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
            assert conditions == {"NamesAccepted": "True", "Established": "True"}
            assert crd["status"]["acceptedNames"]["kind"] == crd["spec"]["names"]["kind"]
            assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
        pytorch = _rt(core, "kubeflow.org", "v1", "pytorchjobs")
        assert pytorch.subresources == frozenset({"status", "scale"}) and pytorch.scale is not None
        assert pytorch.scale.spec_replicas_path == ".spec.pytorchReplicaSpecs.Worker.replicas"
        assert [c.name for c in pytorch.printer_columns] == ["State", "Age"]
        isvc = _rt(core, "serving.kserve.io", "v1beta1", "inferenceservices")
        assert isvc.short_names == ("isvc",) and isvc.printer_columns[0].name == "URL"
        trial = _rt(core, "kubeflow.org", "v1beta1", "trials")
        assert trial.categories == ("all", "kubeflow", "katib") and trial.has_status and not trial.builtin


async def test_builtin_training_schema_validates_replica_specs(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        tfjobs = _rt(core, "kubeflow.org", "v1", "tfjobs")
        with pytest.raises(ApiError) as err:
            await core.create(tfjobs, "default", {"metadata": {"name": "empty"}, "spec": {}})
        assert err.value.code == 422
        assert any(c["field"] == "spec.tfReplicaSpecs" for c in err.value.details["causes"])
        bad = {
            "metadata": {"name": "bad"},
            "spec": {"tfReplicaSpecs": {"Worker": {"replicas": "two", "restartPolicy": "Sometimes"}}},
        }
        with pytest.raises(ApiError) as err:
            await core.create(tfjobs, "default", bad)
        fields = {c["field"] for c in err.value.details["causes"]}
        assert {"spec.tfReplicaSpecs.Worker.replicas", "spec.tfReplicaSpecs.Worker.restartPolicy"} <= fields
        good = {
            "metadata": {"name": "good"},
            "spec": {
                "tfReplicaSpecs": {"Worker": {"replicas": 2, "template": {"spec": {"anything": [1, 2]}}}},
                "unknownField": True,
            },
        }
        made = await core.create(tfjobs, "default", good)
        assert "unknownField" not in made["spec"]  # pruned
        assert made["spec"]["tfReplicaSpecs"]["Worker"]["template"] == {"spec": {"anything": [1, 2]}}
        experiments = _rt(core, "kubeflow.org", "v1beta1", "experiments")
        exp = await core.create(
            experiments, "default", {"metadata": {"name": "e"}, "spec": {"free": {"form": 1}}}
        )
        assert exp["spec"] == {"free": {"form": 1}}


class _Upstream(NamedTuple):
    filename: str
    group: str
    version: str
    plural: str
    valid_spec: dict[str, Any]
    invalid_spec: dict[str, Any]
    bad_field: str


_UPSTREAM = [
    _Upstream(
        "kubeflow.org_pytorchjobs.yaml",
        "kubeflow.org",
        "v1",
        "pytorchjobs",
        {"pytorchReplicaSpecs": {"Master": {"replicas": 1, "template": {"spec": {"containers": []}}}}},
        {"pytorchReplicaSpecs": {"Master": {"replicas": "one"}}},
        "spec.pytorchReplicaSpecs.Master.replicas",
    ),
    _Upstream(
        "kubeflow.org_tfjobs.yaml",
        "kubeflow.org",
        "v1",
        "tfjobs",
        {"tfReplicaSpecs": {"Worker": {"replicas": 1, "restartPolicy": "Never"}}},
        {"tfReplicaSpecs": {"Worker": {"replicas": 1}}, "runPolicy": {"suspend": "yes"}},
        "spec.runPolicy.suspend",
    ),
    _Upstream(
        "serving.kserve.io_inferenceservices.yaml",
        "serving.kserve.io",
        "v1beta1",
        "inferenceservices",
        {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://b/m"}}},
        {"predictor": {"minReplicas": "many"}},
        "spec.predictor.minReplicas",
    ),
]


@pytest.mark.parametrize("case", _UPSTREAM, ids=[c.plural for c in _UPSTREAM])
async def test_upstream_crds_apply_and_validate(tmp_path: Path, case: _Upstream) -> None:
    crd = _load(case.filename)
    async with open_core(tmp_path) as core:
        name = crd["metadata"]["name"]
        current = await core.get(CUSTOMRESOURCEDEFINITIONS, None, name)
        crd["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        started = time.monotonic()
        applied = await core.update(CUSTOMRESOURCEDEFINITIONS, None, name, crd)
        rt = _rt(core, case.group, case.version, case.plural)
        made = await core.create(rt, "default", {"metadata": {"name": "ok"}, "spec": case.valid_spec})
        elapsed = time.monotonic() - started
        assert elapsed < 20, f"applying {case.filename} and creating one object took {elapsed:.1f}s"
        assert applied["metadata"]["generation"] == 2
        assert rt.schema is not None and rt.schema == crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert made["metadata"]["generation"] == 1
        with pytest.raises(ApiError) as err:
            await core.create(rt, "default", {"metadata": {"name": "bad"}, "spec": case.invalid_spec})
        status = err.value.status()
        assert status["code"] == 422 and status["reason"] == "Invalid"
        causes = status["details"]["causes"]
        assert any(c["field"] == case.bad_field for c in causes), causes


async def test_experiment_crd_file_creates_a_new_resource(tmp_path: Path) -> None:
    crd = _load("experiment.yaml")
    crd["metadata"]["name"] = "experiments.example.org"
    crd["spec"]["group"] = "example.org"
    async with open_core(tmp_path) as core:
        made = await core.create(CUSTOMRESOURCEDEFINITIONS, None, crd)
        assert made["status"]["storedVersions"] == ["v1beta1"]
        rt = _rt(core, "example.org", "v1beta1", "experiments")
        obj = await core.create(rt, "default", {"metadata": {"name": "x"}, "spec": {"anything": True}})
        assert obj["apiVersion"] == "example.org/v1beta1" and obj["kind"] == "Experiment"


async def test_invalid_crd_is_rejected(tmp_path: Path) -> None:
    crd = _load("experiment.yaml")
    crd["metadata"]["name"] = "wrong.example.org"
    crd["spec"]["group"] = "example.org"
    async with open_core(tmp_path) as core:
        with pytest.raises(ApiError) as err:
            await core.create(CUSTOMRESOURCEDEFINITIONS, None, crd)
        assert err.value.code == 422
        assert any(c["field"] == "metadata.name" for c in err.value.details["causes"])


async def test_deleting_a_crd_removes_its_objects_and_stops_serving(tmp_path: Path) -> None:
    crd = _load("trial.yaml")
    crd["metadata"]["name"] = "trials.example.org"
    crd["spec"]["group"] = "example.org"
    async with open_core(tmp_path) as core:
        await core.create(CUSTOMRESOURCEDEFINITIONS, None, crd)
        rt = _rt(core, "example.org", "v1beta1", "trials")
        await core.create(rt, "default", {"metadata": {"name": "t1"}})
        await core.create(rt, "default", {"metadata": {"name": "held", "finalizers": ["example.org/hold"]}})
        watch = core.watch(rt, None, resource_version=str(core.resource_version))
        collected = asyncio.ensure_future(_types(watch))
        await asyncio.sleep(0.01)  # the watch is established before the CRD goes
        await core.delete(CUSTOMRESOURCEDEFINITIONS, None, "trials.example.org")
        with pytest.raises(ApiError) as err:
            await core.create(rt, "default", {"metadata": {"name": "late"}})
        assert err.value.code == 405
        await wait_until(lambda: gone(core, rt, "default", "t1"), what="the custom resource to go")
        crd_now = await core.get(CUSTOMRESOURCEDEFINITIONS, None, "trials.example.org")
        assert {c["type"]: c["status"] for c in crd_now["status"]["conditions"]}["Terminating"] == "True"
        await core.patch(
            rt, "default", "held", {"metadata": {"finalizers": None}}, "application/merge-patch+json"
        )
        await wait_until(
            lambda: gone(core, CUSTOMRESOURCEDEFINITIONS, None, "trials.example.org"), what="the CRD to go"
        )
        assert core.registry.get("example.org", "v1beta1", "trials") is None
        # The watch ends when the resource stops being served.
        types = await asyncio.wait_for(collected, 5)
        assert types.count("DELETED") == 2


async def _types(stream: AsyncIterator[WatchEvent]) -> list[str]:
    return [e["type"] async for e in stream]


async def test_crds_survive_restart(tmp_path: Path) -> None:
    crd = _load("suggestion.yaml")
    crd["metadata"]["name"] = "suggestions.example.org"
    crd["spec"]["group"] = "example.org"
    async with open_core(tmp_path) as core:
        await core.create(CUSTOMRESOURCEDEFINITIONS, None, crd)
        await core.create(
            _rt(core, "example.org", "v1beta1", "suggestions"), "default", {"metadata": {"name": "s"}}
        )
    async with open_core(tmp_path) as core:
        rt = _rt(core, "example.org", "v1beta1", "suggestions")
        assert [c.name for c in rt.printer_columns] == ["Type", "Status", "Requested", "Assigned", "Age"]
        assert (await core.get(rt, "default", "s"))["metadata"]["name"] == "s"
