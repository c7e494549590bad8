"""Garbage collection: the three propagation policies with pods owned by a job, dangling owners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kaptain.cluster.apiserver.builtin import CONFIGMAPS, JOBS, NAMESPACES, PODS
from kaptain.cluster.apiserver.core import Core
from tests.cluster.apiserver.corehelpers import configmap, gone, job, open_core, owner_ref, pod, wait_until


async def _job_with_pods(core: Core, name: str, *, nodes: bool = False, block: bool = True) -> dict[str, Any]:
    owner = await core.create(JOBS, "default", job(name))
    for i in range(3):
        await core.create(
            PODS, "default", pod(f"{name}-{i}", owner=owner, block=block, node="local" if nodes else None)
        )
    return owner


async def _pod_names(core: Core) -> list[str]:
    items, _ = await core.list(PODS, "default")
    return [p["metadata"]["name"] for p in items]


async def test_background_deletes_owner_at_once_then_dependents(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await _job_with_pods(core, "bg")
        await core.delete(JOBS, "default", "bg", propagation_policy="Background")
        assert await gone(core, JOBS, "default", "bg")
        await wait_until(lambda: _none_left(core), what="the job's pods to be collected")


async def _none_left(core: Core) -> bool:
    return not await _pod_names(core)


async def test_foreground_deletes_dependents_first(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await _job_with_pods(core, "fg", nodes=True)
        deleting = await core.delete(JOBS, "default", "fg", propagation_policy="Foreground")
        assert "foregroundDeletion" in deleting["metadata"]["finalizers"]
        assert deleting["metadata"]["deletionTimestamp"]

        async def all_pods_deleting() -> bool:
            items, _ = await core.list(PODS, "default")
            return len(items) == 3 and all(p["metadata"].get("deletionTimestamp") for p in items)

        await wait_until(all_pods_deleting, what="the pods to be marked for deletion")
        # The pods run on a node: they (and so the job) stay until the kubelet confirms.
        assert not await gone(core, JOBS, "default", "fg")
        for name in await _pod_names(core):
            await core.delete(PODS, "default", name, grace_period_seconds=0)
        await wait_until(lambda: gone(core, JOBS, "default", "fg"), what="the job to go after its pods")


async def test_foreground_does_not_wait_for_non_blocking_dependents(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await _job_with_pods(core, "nb", nodes=True, block=False)
        await core.delete(JOBS, "default", "nb", propagation_policy="Foreground")
        await wait_until(lambda: gone(core, JOBS, "default", "nb"), what="the job to go")
        # The pods were asked to terminate (and are collected once the kubelet confirms).
        items, _ = await core.list(PODS, "default")
        assert len(items) == 3 and all(p["metadata"].get("deletionTimestamp") for p in items)


async def test_orphan_keeps_dependents_and_drops_references(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        owner = await _job_with_pods(core, "orph")
        await core.delete(JOBS, "default", "orph", propagation_policy="Orphan")
        await wait_until(lambda: gone(core, JOBS, "default", "orph"), what="the job to go")
        items, _ = await core.list(PODS, "default")
        assert len(items) == 3
        for item in items:
            refs = item["metadata"].get("ownerReferences") or []
            assert all(r["uid"] != owner["metadata"]["uid"] for r in refs)


async def test_batch_job_default_policy_orphans_pods_like_kubernetes(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await _job_with_pods(core, "legacy")
        deleting = await core.delete(JOBS, "default", "legacy")
        assert deleting["metadata"]["finalizers"] == ["orphan"]
        await wait_until(lambda: gone(core, JOBS, "default", "legacy"), what="the job to go")
        assert len(await _pod_names(core)) == 3


async def test_dependent_of_a_missing_owner_is_collected(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        ghost = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "ghost", "uid": "no-such-uid"}}
        await core.create(CONFIGMAPS, "default", configmap("dangling", ownerReferences=[owner_ref(ghost)]))
        await wait_until(
            lambda: gone(core, CONFIGMAPS, "default", "dangling"), what="the dangling dependent to go"
        )


async def test_owner_in_another_namespace_does_not_count(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(NAMESPACES, None, {"metadata": {"name": "elsewhere"}})
        owner = await core.create(CONFIGMAPS, "elsewhere", configmap("owner"))
        await core.create(CONFIGMAPS, "default", configmap("cross", ownerReferences=[owner_ref(owner)]))
        await wait_until(
            lambda: gone(core, CONFIGMAPS, "default", "cross"), what="the cross-namespace dependent"
        )
        assert not await gone(core, CONFIGMAPS, "elsewhere", "owner")


async def test_dependent_with_a_live_owner_keeps_only_valid_references(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        first = await core.create(CONFIGMAPS, "default", configmap("first"))
        second = await core.create(CONFIGMAPS, "default", configmap("second"))
        refs = [owner_ref(first, controller=False), owner_ref(second, controller=False)]
        await core.create(CONFIGMAPS, "default", configmap("shared", ownerReferences=refs))
        await core.delete(CONFIGMAPS, "default", "first")

        async def only_second_left() -> bool:
            obj = await core.get(CONFIGMAPS, "default", "shared")
            return [r["name"] for r in obj["metadata"].get("ownerReferences", [])] == ["second"]

        await wait_until(only_second_left, what="the dangling reference to be removed")
        await core.delete(CONFIGMAPS, "default", "second")
        await wait_until(lambda: gone(core, CONFIGMAPS, "default", "shared"), what="the last dependent to go")


async def test_collection_resumes_after_restart(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await _job_with_pods(core, "later")
        await core.stop()  # the collector is not running when the owner goes
        await core.delete(JOBS, "default", "later", propagation_policy="Background")
        assert len(await _pod_names(core)) == 3
    async with open_core(tmp_path) as core:
        await wait_until(lambda: _none_left(core), what="the pods to be collected after the restart")
