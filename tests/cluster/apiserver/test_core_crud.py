"""Create, get, list, update and patch through the in-process core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kaptain.cluster.apiserver.builtin import CONFIGMAPS, JOBS, NAMESPACES, PODS, SECRETS, SERVICEACCOUNTS
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.resources import ResourceType
from tests.cluster.apiserver.corehelpers import configmap, job, open_core, pod, wait_until

TFJOBS = ResourceType("kubeflow.org", "v1", "tfjobs", "TFJob", True, builtin=False)


def _tfjob(name: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": name},
        "spec": {
            "tfReplicaSpecs": {
                "Worker": {
                    "replicas": replicas,
                    "restartPolicy": "Never",
                    "template": {"spec": {"containers": []}},
                }
            }
        },
    }


async def test_create_fills_server_fields_and_get_returns_it(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        created = await core.create(CONFIGMAPS, "default", configmap("c1", {"a": "b"}))
        meta = created["metadata"]
        assert created["apiVersion"] == "v1" and created["kind"] == "ConfigMap"
        assert meta["namespace"] == "default" and len(meta["uid"]) == 36
        assert meta["creationTimestamp"].endswith("Z") and len(meta["creationTimestamp"]) == 20
        assert int(meta["resourceVersion"]) == core.resource_version
        assert "generation" not in meta  # config-like kinds have none, as in Kubernetes
        assert await core.get(CONFIGMAPS, "default", "c1") == created
        # The returned object is the caller's: changing it does not change the stored one.
        created["data"]["a"] = "changed"
        assert (await core.get(CONFIGMAPS, "default", "c1"))["data"] == {"a": "b"}


async def test_generate_name_namespace_defaulting_and_mismatch(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(CONFIGMAPS, None, {"metadata": {"generateName": "cfg-"}})
        name = made["metadata"]["name"]
        assert name.startswith("cfg-") and len(name) == 9 and made["metadata"]["namespace"] == "default"
        with pytest.raises(ApiError) as err:
            await core.create(CONFIGMAPS, "default", configmap("x", namespace="other"))
        assert err.value.code == 400
        with pytest.raises(ApiError) as err:
            await core.create(
                CONFIGMAPS, "default", {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "y"}}
            )
        assert err.value.code == 400


async def test_missing_name_and_bad_name_are_422_with_causes(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        with pytest.raises(ApiError) as err:
            await core.create(CONFIGMAPS, "default", {"metadata": {}})
        status = err.value.status()
        assert status["code"] == 422 and status["reason"] == "Invalid"
        assert status["details"]["causes"][0]["field"] == "metadata.name"
        assert status["details"]["causes"][0]["reason"] == "FieldValueRequired"
        with pytest.raises(ApiError) as err:
            await core.create(CONFIGMAPS, "default", configmap("Not_Valid"))
        status = err.value.status()
        assert status["code"] == 422 and status["details"]["kind"] == "ConfigMap"
        assert status["message"].startswith('ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value')


async def test_namespace_must_exist_and_duplicate_is_409(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        with pytest.raises(ApiError) as err:
            await core.create(CONFIGMAPS, "nowhere", configmap("c"))
        assert err.value.code == 404 and err.value.message == 'namespaces "nowhere" not found'
        await core.create(CONFIGMAPS, "default", configmap("c"))
        with pytest.raises(ApiError) as err:
            await core.create(CONFIGMAPS, "default", configmap("c"))
        status = err.value.status()
        assert status["code"] == 409 and status["reason"] == "AlreadyExists"
        assert status["message"] == 'configmaps "c" already exists'
        with pytest.raises(ApiError) as err:
            await core.get(CONFIGMAPS, "default", "nope")
        assert err.value.status()["details"] == {"name": "nope", "kind": "configmaps"}


async def test_create_with_resource_version_and_dry_run(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        with pytest.raises(ApiError) as err:
            await core.create(CONFIGMAPS, "default", configmap("c", resourceVersion="5"))
        assert err.value.code == 400
        rv = core.resource_version
        dry = await core.create(CONFIGMAPS, "default", configmap("dry"), dry_run=True)
        assert dry["metadata"]["uid"] and "resourceVersion" not in dry["metadata"]
        assert core.resource_version == rv
        with pytest.raises(ApiError):
            await core.get(CONFIGMAPS, "default", "dry")


async def test_cluster_scoped_kind_has_no_namespace(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        ns = await core.create(NAMESPACES, None, {"metadata": {"name": "team-a", "namespace": "ignored"}})
        assert "namespace" not in ns["metadata"]
        assert ns["status"] == {"phase": "Active"} and ns["spec"] == {"finalizers": ["kubernetes"]}
        assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "team-a"
        names = {n["metadata"]["name"] for n in (await core.list(NAMESPACES, None))[0]}
        assert {"default", "kube-system", "kube-public", "team-a"} <= names
        await wait_until(
            lambda: core.store.get(_sa_key("team-a")) is not None, what="the default ServiceAccount of team-a"
        )
        sa = await core.get(SERVICEACCOUNTS, "team-a", "default")
        assert sa["metadata"]["namespace"] == "team-a"


def _sa_key(ns: str) -> Any:
    from kaptain.cluster.apiserver.store import Key

    return Key("", "serviceaccounts", ns, "default")


async def test_list_filters_and_reports_resource_version(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(NAMESPACES, None, {"metadata": {"name": "other"}})
        await core.create(CONFIGMAPS, "default", configmap("a", labels={"app": "web", "tier": "front"}))
        await core.create(CONFIGMAPS, "default", configmap("b", labels={"app": "db"}))
        await core.create(CONFIGMAPS, "other", configmap("c", labels={"app": "web"}))
        items, rv = await core.list(CONFIGMAPS, "default")
        assert [i["metadata"]["name"] for i in items] == ["a", "b"] and rv == str(core.resource_version)
        items, _ = await core.list(CONFIGMAPS, None, label_selector="app=web")
        assert [i["metadata"]["name"] for i in items] == ["a", "c"]
        items, _ = await core.list(CONFIGMAPS, None, label_selector="app in (web,db),!tier")
        assert [i["metadata"]["name"] for i in items] == ["b", "c"]
        items, _ = await core.list(CONFIGMAPS, None, field_selector="metadata.namespace=other")
        assert [i["metadata"]["name"] for i in items] == ["c"]
        items, _ = await core.list(CONFIGMAPS, None, field_selector="metadata.name!=a")
        assert [i["metadata"]["name"] for i in items] == ["b", "c"]
        with pytest.raises(ApiError) as err:
            await core.list(CONFIGMAPS, None, field_selector="spec.nodeName=x")
        assert err.value.code == 400 and "field label not supported" in err.value.message
        with pytest.raises(ApiError) as err:
            await core.list(CONFIGMAPS, None, label_selector="app in (")
        assert err.value.code == 400


async def test_pod_field_selectors(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(PODS, "default", pod("p1", node="local"))
        await core.create(PODS, "default", pod("p2"))
        p1 = await core.get(PODS, "default", "p1")
        p1["status"] = {"phase": "Running"}
        await core.update(PODS, "default", "p1", p1, subresource="status")
        items, _ = await core.list(PODS, "default", field_selector="status.phase=Running")
        assert [i["metadata"]["name"] for i in items] == ["p1"]
        items, _ = await core.list(PODS, "default", field_selector="spec.nodeName=")
        assert [i["metadata"]["name"] for i in items] == ["p2"]


async def test_update_optimistic_concurrency(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        first = await core.create(CONFIGMAPS, "default", configmap("c", {"v": "1"}))
        first["data"]["v"] = "2"
        second = await core.update(CONFIGMAPS, "default", "c", first)
        assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
        first["data"]["v"] = "3"  # still carries the old resourceVersion
        with pytest.raises(ApiError) as err:
            await core.update(CONFIGMAPS, "default", "c", first)
        status = err.value.status()
        assert status["code"] == 409 and status["reason"] == "Conflict"
        assert status["message"].startswith(
            'Operation cannot be fulfilled on configmaps "c": the object has been modified'
        )
        # Without a resourceVersion the update is unconditional.
        del first["metadata"]["resourceVersion"]
        third = await core.update(CONFIGMAPS, "default", "c", first)
        assert third["data"] == {"v": "3"}
        assert third["metadata"]["uid"] == second["metadata"]["uid"]
        assert third["metadata"]["creationTimestamp"] == second["metadata"]["creationTimestamp"]
        with pytest.raises(ApiError) as err:
            await core.update(CONFIGMAPS, "default", "missing", configmap("missing"))
        assert err.value.code == 404
        with pytest.raises(ApiError) as err:
            await core.update(CONFIGMAPS, "default", "c", configmap("other-name"))
        assert err.value.code == 400


async def test_noop_update_writes_nothing(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(CONFIGMAPS, "default", configmap("c", {"v": "1"}))
        rv = core.resource_version
        same = await core.update(CONFIGMAPS, "default", "c", made)
        assert same["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
        assert core.resource_version == rv


async def test_generation_and_status_subresource_for_custom_resources(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(TFJOBS, "default", {**_tfjob("t1"), "status": {"ignored": True}})
        assert made["metadata"]["generation"] == 1 and "status" not in made
        # A status write changes only status and never the generation.
        made["status"] = {"conditions": [{"type": "Created", "status": "True"}]}
        made["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = 5
        after_status = await core.update(TFJOBS, "default", "t1", made, subresource="status")
        assert after_status["metadata"]["generation"] == 1
        assert after_status["status"]["conditions"][0]["type"] == "Created"
        assert after_status["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 1
        # A main-resource write keeps the stored status and bumps generation on spec changes only.
        after_status["status"] = {"conditions": []}
        after_status["metadata"]["labels"] = {"a": "b"}
        relabeled = await core.update(TFJOBS, "default", "t1", after_status)
        assert relabeled["metadata"]["generation"] == 1
        assert relabeled["status"]["conditions"][0]["type"] == "Created"
        relabeled["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = 3
        respec = await core.update(TFJOBS, "default", "t1", relabeled)
        assert respec["metadata"]["generation"] == 2
        patched = await core.patch(
            TFJOBS,
            "default",
            "t1",
            {"status": {"observedGeneration": 2}},
            "application/merge-patch+json",
            subresource="status",
        )
        assert patched["status"]["observedGeneration"] == 2 and patched["metadata"]["generation"] == 2


async def test_status_subresource_of_a_kind_without_one_is_404(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(CONFIGMAPS, "default", configmap("c"))
        with pytest.raises(ApiError) as err:
            await core.update(CONFIGMAPS, "default", "c", made, subresource="status")
        assert err.value.code == 404


async def test_patches(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(PODS, "default", pod("p", labels={"a": "1"}))
        merged = await core.patch(
            PODS,
            "default",
            "p",
            {"metadata": {"labels": {"b": "2", "a": None}}},
            "application/merge-patch+json",
        )
        assert merged["metadata"]["labels"] == {"b": "2"}
        jp = await core.patch(
            PODS,
            "default",
            "p",
            [{"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}}],
            "application/json-patch+json",
        )
        assert jp["metadata"]["annotations"] == {"x": "y"}
        with pytest.raises(ApiError) as err:
            await core.patch(
                PODS,
                "default",
                "p",
                [{"op": "test", "path": "/metadata/name", "value": "q"}],
                "application/json-patch+json",
            )
        assert err.value.code == 422
        smp = await core.patch(
            PODS,
            "default",
            "p",
            {"spec": {"containers": [{"name": "main", "image": "python:3.12"}]}},
            "application/strategic-merge-patch+json",
        )
        # Strategic merge merges the containers list by name instead of replacing it.
        assert smp["spec"]["containers"][0]["image"] == "python:3.12"
        assert smp["spec"]["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
        with pytest.raises(ApiError) as err:
            await core.patch(PODS, "default", "missing", {}, "application/merge-patch+json")
        assert err.value.code == 404
        stale = {"metadata": {"resourceVersion": "1", "labels": {"c": "3"}}}
        with pytest.raises(ApiError) as err:
            await core.patch(PODS, "default", "p", stale, "application/merge-patch+json")
        assert err.value.code == 409


async def test_strategic_merge_on_custom_resource_is_415(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(TFJOBS, "default", _tfjob("t"))
        with pytest.raises(ApiError) as err:
            await core.patch(TFJOBS, "default", "t", {"spec": {}}, "application/strategic-merge-patch+json")
        assert err.value.code == 415 and err.value.reason == "UnsupportedMediaType"
        patched = await core.patch(
            TFJOBS,
            "default",
            "t",
            {"spec": {"runPolicy": {"cleanPodPolicy": "All"}}},
            "application/merge-patch+json",
        )
        assert patched["spec"]["runPolicy"] == {"cleanPodPolicy": "All", "suspend": False}
        assert patched["metadata"]["generation"] == 2


async def test_apply_patch_creates_then_merges(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
        made = await core.patch(CONFIGMAPS, "default", "applied", text, "application/apply-patch+yaml")
        assert made["data"] == {"a": "1"}
        again = await core.patch(
            CONFIGMAPS, "default", "applied", {"data": {"b": "2"}}, "application/apply-patch+yaml"
        )
        assert again["data"] == {"a": "1", "b": "2"}


async def test_job_defaults_selector_and_immutability(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(JOBS, "default", job("j"))
        uid = made["metadata"]["uid"]
        spec = made["spec"]
        assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        assert spec["template"]["metadata"]["labels"]["job-name"] == "j"
        assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
        assert made["metadata"]["generation"] == 1 and made["status"] == {}
        spec["selector"] = {"matchLabels": {"x": "y"}}
        with pytest.raises(ApiError) as err:
            await core.update(JOBS, "default", "j", made)
        assert err.value.code == 422
        fields = {c["field"] for c in err.value.details["causes"]}
        assert "spec.selector" in fields


async def test_pod_spec_is_immutable_except_node_binding(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(PODS, "default", pod("p"))
        assert made["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
        assert made["spec"]["terminationGracePeriodSeconds"] == 30
        made["spec"]["nodeName"] = "local"
        bound = await core.update(PODS, "default", "p", made)
        assert bound["spec"]["nodeName"] == "local" and bound["metadata"]["generation"] == 2
        bound["spec"]["restartPolicy"] = "Always"
        with pytest.raises(ApiError) as err:
            await core.update(PODS, "default", "p", bound)
        assert err.value.code == 422 and err.value.details["causes"][0]["field"] == "spec"


async def test_secret_string_data_is_folded_into_data(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(SECRETS, "default", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
        assert made["data"] == {"k": "dg=="} and made["type"] == "Opaque" and "stringData" not in made


async def test_unserved_resource_is_404(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        ghost = ResourceType("example.com", "v1", "ghosts", "Ghost", True, builtin=False)
        with pytest.raises(ApiError) as err:
            await core.list(ghost, None)
        assert err.value.code == 404
