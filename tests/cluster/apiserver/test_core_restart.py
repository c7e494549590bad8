"""State survives closing and reopening the core; resourceVersions keep increasing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaptain.cluster.apiserver.builtin import CONFIGMAPS, NAMESPACES
from kaptain.cluster.apiserver.errors import ApiError
from tests.cluster.apiserver.corehelpers import configmap, next_events, open_core, wait_until


async def test_objects_and_versions_survive_restart(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(NAMESPACES, None, {"metadata": {"name": "keep"}})
        made = await core.create(CONFIGMAPS, "keep", configmap("c", {"a": "b"}))
        await core.create(CONFIGMAPS, "keep", configmap("gone"))
        await core.delete(CONFIGMAPS, "keep", "gone")
        # Let the controllers finish (the namespace's default ServiceAccount) before closing.
        await wait_until(core.idle, what="the controllers to settle")
        rv_before = core.resource_version
    async with open_core(tmp_path) as core:
        # Bootstrap finds everything in place and writes nothing.
        assert core.resource_version == rv_before
        again = await core.get(CONFIGMAPS, "keep", "c")
        assert again == made
        items, rv = await core.list(CONFIGMAPS, "keep")
        assert [i["metadata"]["name"] for i in items] == ["c"] and rv == str(rv_before)
        updated = await core.patch(
            CONFIGMAPS, "keep", "c", {"data": {"a": "c"}}, "application/merge-patch+json"
        )
        assert int(updated["metadata"]["resourceVersion"]) == rv_before + 1
        # History does not survive a restart: older versions are gone, the current one resumes.
        with pytest.raises(ApiError) as err:
            await anext(core.watch(CONFIGMAPS, "keep", resource_version=str(rv_before - 1)))
        assert err.value.code == 410
        stream = core.watch(CONFIGMAPS, "keep", resource_version=str(rv_before))
        assert [e["type"] for e in await next_events(stream, 1)] == ["MODIFIED"]
        await stream.aclose()  # type: ignore[attr-defined]
