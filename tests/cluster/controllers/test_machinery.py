"""The reconcile machinery on the real API core: informer list+watch with 410 recovery, controller retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, EventType, Object
from kaptain.cluster.controllers.base import Controller, write_status
from kaptain.cluster.controllers.informer import Informer
from kaptain.cluster.controllers.objects import Key
from tests.cluster.controllers.helpers import NS, eventually, rt

CONFIGMAPS = ("", "v1", "configmaps")


@pytest.fixture
async def small_core(tmp_path: Path) -> AsyncIterator[Core]:
    """A core whose watches are dropped (410) as soon as two events wait undelivered."""
    opened = await Core.open(tmp_path / "apiserver", watch_queue_limit=2)
    try:
        yield opened
    finally:
        await opened.close()


def _config_map(name: str, **data: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS},
        "data": data,
    }


async def test_informer_recovers_from_a_dropped_watch_by_relisting(small_core: Core) -> None:
    core = small_core
    maps = rt(core, *CONFIGMAPS)
    await core.create(maps, NS, _config_map("doomed"))
    seen: list[tuple[EventType, str]] = []
    informer = Informer(core, maps, namespace=NS)
    informer.add_handler(lambda kind, obj: seen.append((kind, obj["metadata"]["name"])))
    await informer.start()
    try:
        assert informer.synced and informer.relists == 1
        assert seen == [("ADDED", "doomed")]
        # Writes that never yield to the informer overflow its watch, which the server ends with 410.
        await core.delete(maps, NS, "doomed")
        for i in range(10):
            await core.create(maps, NS, _config_map(f"cm-{i}"))

        async def recovered() -> bool:
            return informer.relists >= 2 and len(informer.items()) == 10

        await eventually(recovered, what="relist after 410")
        assert informer.get(NS, "doomed") is None
        assert ("DELETED", "doomed") in seen
        assert {name for kind, name in seen if kind == "ADDED"} == {"doomed"} | {f"cm-{i}" for i in range(10)}
        # The watch goes on after the recovery.
        await core.create(maps, NS, _config_map("after"))
        await eventually(lambda: _has(informer, "after"), what="event after recovery")
    finally:
        await informer.stop()


async def _has(informer: Informer, name: str) -> bool:
    return informer.get(NS, name) is not None


async def test_informer_renews_its_watch_from_the_last_version(tmp_path: Path) -> None:
    core = await Core.open(tmp_path / "apiserver")
    maps = rt(core, *CONFIGMAPS)
    informer = Informer(core, maps, namespace=NS, watch_timeout=0.05)
    try:
        await informer.start()
        await asyncio.sleep(0.2)
        await core.create(maps, NS, _config_map("late"))
        await eventually(lambda: _has(informer, "late"), what="event after renewals")
        # Renewals resume from the last version: no relist was needed.
        assert informer.relists == 1
    finally:
        await informer.stop()
        await core.close()


class _Annotator(Controller):
    """Copies each ConfigMap's `data.want` into its annotation, failing the first attempts with 409."""

    def __init__(self, core: ApiCore, conflicts: int) -> None:
        super().__init__(core, CONFIGMAPS, name="annotator")
        self.conflicts = conflicts
        self.calls: list[Key] = []

    async def reconcile(self, key: Key) -> float | None:
        self.calls.append(key)
        try:
            obj = await self.core.get(self.primary, key.namespace, key.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        if self.conflicts > 0:
            self.conflicts -= 1
            raise ApiError.conflict("", "configmaps", key.name)
        want = (obj.get("data") or {}).get("want", "")
        if (obj["metadata"].get("annotations") or {}).get("seen") != want:
            obj["metadata"]["annotations"] = {"seen": want}
            await self.core.update(self.primary, key.namespace, key.name, obj)
        return 0.05 if want == "tick" else None


async def test_controller_retries_conflicts_and_requeues_after(tmp_path: Path) -> None:
    core = await Core.open(tmp_path / "apiserver")
    maps = rt(core, *CONFIGMAPS)
    controller = _Annotator(core, conflicts=2)
    await controller.start()
    try:
        await core.create(maps, NS, _config_map("one", want="yes"))

        async def annotated() -> bool:
            obj = await core.get(maps, NS, "one")
            return (obj["metadata"].get("annotations") or {}).get("seen") == "yes"

        await eventually(annotated, what="annotation after two conflicts")
        assert controller.calls.count(Key(NS, "one")) >= 3

        await core.create(maps, NS, _config_map("ticker", want="tick"))
        await eventually(lambda: _calls_at_least(controller, "ticker", 5), what="requeue-after")
    finally:
        await controller.stop()
        await core.close()
    # Stopped means stopped: no more reconciles.
    count = len(controller.calls)
    await asyncio.sleep(0.2)
    assert len(controller.calls) == count


async def _calls_at_least(controller: _Annotator, name: str, count: int) -> bool:
    return controller.calls.count(Key(NS, name)) >= count


async def test_write_status_skips_unchanged_status(tmp_path: Path) -> None:
    core = await Core.open(tmp_path / "apiserver")
    try:
        jobs = rt(core, "batch", "v1", "jobs")
        job = await core.create(
            jobs,
            NS,
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "s", "namespace": NS},
                "spec": {
                    "suspend": True,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "python:3.11"}],
                        }
                    },
                },
            },
        )
        assert await write_status(core, jobs, job, job.get("status") or {}) is None
        updated = await write_status(core, jobs, job, {"active": 0, "ready": 0})
        assert updated is not None and updated["status"] == {"active": 0, "ready": 0}
        assert updated["metadata"]["resourceVersion"] != job["metadata"]["resourceVersion"]
        with pytest.raises(ApiError) as stale:
            await write_status(core, jobs, job, {"active": 1})
        assert stale.value.code == 409
    finally:
        await core.close()
