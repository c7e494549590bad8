"""Deletion: finalizers, preconditions, graceful pod deletion and namespace deletion."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaptain.cluster.apiserver.builtin import CONFIGMAPS, NAMESPACES, PODS, SERVICEACCOUNTS
from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.resources import ResourceType
from tests.cluster.apiserver.corehelpers import configmap, gone, open_core, pod, wait_until


async def test_delete_removes_and_returns_last_state(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(CONFIGMAPS, "default", configmap("c", {"a": "b"}))
        last = await core.delete(CONFIGMAPS, "default", "c")
        assert last["data"] == {"a": "b"} and last["metadata"]["uid"] == made["metadata"]["uid"]
        assert int(last["metadata"]["resourceVersion"]) == core.resource_version
        assert await gone(core, CONFIGMAPS, "default", "c")
        with pytest.raises(ApiError) as err:
            await core.delete(CONFIGMAPS, "default", "c")
        assert err.value.code == 404


async def test_finalizers_hold_the_object_until_removed(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(CONFIGMAPS, "default", configmap("c", finalizers=["example.com/hold"]))
        deleting = await core.delete(CONFIGMAPS, "default", "c")
        meta = deleting["metadata"]
        assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
        assert (await core.get(CONFIGMAPS, "default", "c"))["metadata"]["deletionTimestamp"]
        # No new finalizers on a deleting object.
        deleting["metadata"]["finalizers"] = ["example.com/hold", "example.com/more"]
        with pytest.raises(ApiError) as err:
            await core.update(CONFIGMAPS, "default", "c", deleting)
        assert err.value.code == 422 and err.value.details["causes"][0]["field"] == "metadata.finalizers"
        # Other changes are still allowed; removing the last finalizer removes the object.
        current = await core.get(CONFIGMAPS, "default", "c")
        current["data"] = {"x": "y"}
        current = await core.update(CONFIGMAPS, "default", "c", current)
        assert current["data"] == {"x": "y"}
        await core.patch(
            CONFIGMAPS, "default", "c", {"metadata": {"finalizers": None}}, "application/merge-patch+json"
        )
        assert await gone(core, CONFIGMAPS, "default", "c")


async def test_delete_preconditions(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(CONFIGMAPS, "default", configmap("c"))
        with pytest.raises(ApiError) as err:
            await core.delete(CONFIGMAPS, "default", "c", preconditions={"uid": "not-the-uid"})
        assert (
            err.value.code == 409
            and "Precondition failed: UID in precondition: not-the-uid" in err.value.message
        )
        with pytest.raises(ApiError) as err:
            await core.delete(CONFIGMAPS, "default", "c", preconditions={"resourceVersion": "1"})
        assert err.value.code == 409
        with pytest.raises(ApiError) as err:
            await core.delete(CONFIGMAPS, "default", "c", propagation_policy="Sideways")
        assert err.value.code == 400
        await core.delete(
            CONFIGMAPS,
            "default",
            "c",
            preconditions={
                "uid": made["metadata"]["uid"],
                "resourceVersion": made["metadata"]["resourceVersion"],
            },
        )
        assert await gone(core, CONFIGMAPS, "default", "c")


async def test_pod_on_a_node_is_deleted_gracefully_by_the_kubelet(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        made = await core.create(PODS, "default", pod("bound", node="local"))
        made["spec"]["terminationGracePeriodSeconds"] = 30
        deleting = await core.delete(PODS, "default", "bound")
        meta = deleting["metadata"]
        assert meta["deletionGracePeriodSeconds"] == 30 and meta["deletionTimestamp"]
        assert meta["generation"] == 2
        # A second delete may shorten the grace period but not extend it.
        again = await core.delete(PODS, "default", "bound", grace_period_seconds=10)
        assert again["metadata"]["deletionGracePeriodSeconds"] == 10
        again = await core.delete(PODS, "default", "bound", grace_period_seconds=60)
        assert again["metadata"]["deletionGracePeriodSeconds"] == 10
        # Status updates from the kubelet keep working while the pod terminates.
        again["status"] = {"phase": "Running"}
        await core.update(PODS, "default", "bound", again, subresource="status")
        assert not await gone(core, PODS, "default", "bound")
        # The kubelet confirms with grace 0 (and the pod's uid) once the containers are stopped.
        await core.delete(
            PODS, "default", "bound", grace_period_seconds=0, preconditions={"uid": made["metadata"]["uid"]}
        )
        assert await gone(core, PODS, "default", "bound")


async def test_pod_grace_period_comes_from_body_then_spec(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        spec_pod = pod("spec-grace", node="local")
        spec_pod["spec"]["terminationGracePeriodSeconds"] = 7
        await core.create(PODS, "default", spec_pod)
        assert (await core.delete(PODS, "default", "spec-grace"))["metadata"][
            "deletionGracePeriodSeconds"
        ] == 7
        await core.create(PODS, "default", pod("body-grace", node="local"))
        deleting = await core.delete(PODS, "default", "body-grace", grace_period_seconds=3)
        assert deleting["metadata"]["deletionGracePeriodSeconds"] == 3
        # Without a node nobody runs the pod: it is removed at once.
        await core.create(PODS, "default", pod("unbound"))
        await core.delete(PODS, "default", "unbound")
        assert await gone(core, PODS, "default", "unbound")


async def test_namespace_deletion_empties_and_removes_it(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(NAMESPACES, None, {"metadata": {"name": "team"}})
        await core.create(CONFIGMAPS, "team", configmap("a"))
        await core.create(CONFIGMAPS, "team", configmap("held", finalizers=["example.com/hold"]))
        await core.create(PODS, "team", pod("running", node="local"))
        deleting = await core.delete(NAMESPACES, None, "team")
        assert deleting["status"]["phase"] == "Terminating" and deleting["metadata"]["deletionTimestamp"]
        with pytest.raises(ApiError) as err:
            await core.create(CONFIGMAPS, "team", configmap("late"))
        status = err.value.status()
        assert status["code"] == 403 and status["reason"] == "Forbidden"
        assert "because it is being terminated" in status["message"]
        await wait_until(lambda: gone(core, CONFIGMAPS, "team", "a"), what="the namespace's config map to go")
        # The namespace waits for objects with finalizers and for pods its kubelet still runs.
        await wait_until(
            lambda: _deleting(core, PODS, "team", "running"), what="the pod to be marked for deletion"
        )
        assert not await gone(core, NAMESPACES, None, "team")
        await core.patch(
            CONFIGMAPS, "team", "held", {"metadata": {"finalizers": None}}, "application/merge-patch+json"
        )
        await core.delete(PODS, "team", "running", grace_period_seconds=0)
        await wait_until(lambda: gone(core, NAMESPACES, None, "team"), what="the namespace to go")
        assert await gone(core, SERVICEACCOUNTS, "team", "default")


async def _deleting(core: Core, rt: ResourceType, ns: str, name: str) -> bool:
    obj = await core.get(rt, ns, name)
    return bool(obj["metadata"].get("deletionTimestamp"))


async def test_system_namespaces_cannot_be_deleted(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        with pytest.raises(ApiError) as err:
            await core.delete(NAMESPACES, None, "default")
        assert (
            err.value.code == 403
            and err.value.message == 'namespaces "default" is forbidden: this namespace may not be deleted'
        )
