"""Watch: initial state, resumption, 410, bookmarks, selectors, slow watchers, timeouts."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.builtin import CONFIGMAPS, NAMESPACES, PODS
from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, WatchEvent
from tests.cluster.apiserver.corehelpers import configmap, next_events, open_core, pod


def _summary(events: list[WatchEvent]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in events]


async def test_watch_without_version_sends_current_state_then_changes(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(CONFIGMAPS, "default", configmap("a"))
        await core.create(CONFIGMAPS, "default", configmap("b"))
        stream = core.watch(CONFIGMAPS, "default")
        first = await next_events(stream, 2)
        assert _summary(first) == [("ADDED", "a"), ("ADDED", "b")]
        await core.create(CONFIGMAPS, "default", configmap("c"))
        await core.patch(CONFIGMAPS, "default", "a", {"data": {"x": "1"}}, "application/merge-patch+json")
        await core.delete(CONFIGMAPS, "default", "b")
        later = await next_events(stream, 3)
        assert _summary(later) == [("ADDED", "c"), ("MODIFIED", "a"), ("DELETED", "b")]
        assert later[1]["object"]["data"] == {"x": "1"}
        assert later[2]["object"]["metadata"]["resourceVersion"] == str(core.resource_version)
        await stream.aclose()  # type: ignore[attr-defined]


async def test_resume_from_a_version_sees_exactly_the_later_events(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(CONFIGMAPS, "default", configmap("before"))
        _, rv = await core.list(CONFIGMAPS, "default")
        await core.create(CONFIGMAPS, "default", configmap("after-1"))
        await core.create(PODS, "default", pod("other-kind"))
        await core.patch(
            CONFIGMAPS, "default", "before", {"data": {"k": "v"}}, "application/merge-patch+json"
        )
        await core.delete(CONFIGMAPS, "default", "after-1")
        stream = core.watch(CONFIGMAPS, "default", resource_version=rv, timeout_seconds=0.5)
        events = [e async for e in stream]
        assert _summary(events) == [("ADDED", "after-1"), ("MODIFIED", "before"), ("DELETED", "after-1")]
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert versions == sorted(versions) and versions[0] > int(rv)


async def test_too_old_resource_version_is_410(tmp_path: Path) -> None:
    async with open_core(tmp_path, history_size=5) as core:
        _, rv = await core.list(CONFIGMAPS, "default")
        for i in range(10):
            await core.create(CONFIGMAPS, "default", configmap(f"c{i}"))
        stream = core.watch(CONFIGMAPS, "default", resource_version=rv)
        with pytest.raises(ApiError) as err:
            await anext(stream)
        status = err.value.status()
        assert status["code"] == 410 and status["reason"] == "Expired"
        assert status["message"].startswith(f"too old resource version: {rv} (")
        # The newest kept versions still resume.
        recent = str(core.resource_version - 3)
        events = [
            e async for e in core.watch(CONFIGMAPS, "default", resource_version=recent, timeout_seconds=0.3)
        ]
        assert _summary(events) == [("ADDED", "c7"), ("ADDED", "c8"), ("ADDED", "c9")]
        with pytest.raises(ApiError) as err:
            await anext(core.watch(CONFIGMAPS, "default", resource_version="abc"))
        assert err.value.code == 400


async def test_bookmarks_carry_the_current_version(tmp_path: Path) -> None:
    async with open_core(tmp_path, bookmark_interval=timedelta(milliseconds=100)) as core:
        stream = core.watch(
            CONFIGMAPS, "default", resource_version=str(core.resource_version), allow_bookmarks=True
        )
        await core.create(NAMESPACES, None, {"metadata": {"name": "unrelated"}})
        added = await core.create(CONFIGMAPS, "default", configmap("a"))
        events = await next_events(stream, 2, within=3)
        assert events[0]["type"] == "ADDED"
        assert events[1]["type"] == "BOOKMARK"
        bookmark = events[1]["object"]
        assert bookmark["kind"] == "ConfigMap" and bookmark["apiVersion"] == "v1"
        assert int(bookmark["metadata"]["resourceVersion"]) >= int(added["metadata"]["resourceVersion"])
        await stream.aclose()  # type: ignore[attr-defined]
        # Without allow_bookmarks none are sent.
        quiet = [
            e async for e in core.watch(CONFIGMAPS, "default", resource_version="0", timeout_seconds=0.4)
        ]
        assert [e["type"] for e in quiet] == ["ADDED"]


async def test_selector_transitions_look_like_added_and_deleted(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(CONFIGMAPS, "default", configmap("c", labels={"app": "web"}))
        stream = core.watch(CONFIGMAPS, "default", label_selector="app=web")
        assert _summary(await next_events(stream, 1)) == [("ADDED", "c")]
        await core.patch(
            CONFIGMAPS,
            "default",
            "c",
            {"metadata": {"labels": {"app": "db"}}},
            "application/merge-patch+json",
        )
        await core.patch(
            CONFIGMAPS, "default", "c", {"data": {"unseen": "1"}}, "application/merge-patch+json"
        )
        await core.patch(
            CONFIGMAPS,
            "default",
            "c",
            {"metadata": {"labels": {"app": "web"}}},
            "application/merge-patch+json",
        )
        events = await next_events(stream, 2)
        assert _summary(events) == [("DELETED", "c"), ("ADDED", "c")]
        # The DELETED event shows the last matching state at the version of the change.
        assert events[0]["object"]["metadata"]["labels"] == {"app": "web"}
        assert events[1]["object"]["data"] == {"unseen": "1"}
        assert int(events[0]["object"]["metadata"]["resourceVersion"]) < int(
            events[1]["object"]["metadata"]["resourceVersion"]
        )
        await stream.aclose()  # type: ignore[attr-defined]


async def test_field_selector_and_namespace_scope(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(NAMESPACES, None, {"metadata": {"name": "other"}})
        stream = core.watch(
            CONFIGMAPS, None, resource_version=str(core.resource_version), field_selector="metadata.name=want"
        )
        await core.create(CONFIGMAPS, "default", configmap("skip"))
        await core.create(CONFIGMAPS, "other", configmap("want"))
        assert [(e["type"], e["object"]["metadata"]["namespace"]) for e in await next_events(stream, 1)] == [
            ("ADDED", "other")
        ]
        with pytest.raises(ApiError) as err:
            await anext(core.watch(CONFIGMAPS, None, field_selector="status.phase=Running"))
        assert err.value.code == 400
        await stream.aclose()  # type: ignore[attr-defined]


async def test_slow_watcher_is_ended_with_410(tmp_path: Path) -> None:
    async with open_core(tmp_path, watch_queue_limit=10) as core:
        slow = core.watch(CONFIGMAPS, "default", resource_version=str(core.resource_version))
        fast = core.watch(CONFIGMAPS, "default", resource_version=str(core.resource_version))
        first_fast = asyncio.ensure_future(anext(fast))
        first_slow = asyncio.ensure_future(anext(slow))
        await asyncio.sleep(0)
        for i in range(30):
            await core.create(CONFIGMAPS, "default", configmap(f"c{i}"))
            if i == 0:
                assert (await first_fast)["type"] == "ADDED"
                assert (await first_slow)["type"] == "ADDED"
            else:
                assert (await anext(fast))["type"] == "ADDED"
        # The slow watcher read one event and then nothing while 29 were queued for it.
        async with asyncio.timeout(5):
            tail = [e async for e in slow]
        assert len(tail) == 1 and tail[0]["type"] == "ERROR"
        assert tail[0]["object"]["code"] == 410 and tail[0]["object"]["reason"] == "Expired"
        await fast.aclose()  # type: ignore[attr-defined]


async def test_timeout_ends_the_stream(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        loop = asyncio.get_running_loop()
        start = loop.time()
        events = [e async for e in core.watch(PODS, "default", resource_version="0", timeout_seconds=0.3)]
        assert events == [] and 0.25 <= loop.time() - start < 3


async def test_close_ends_open_watches(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        stream = core.watch(CONFIGMAPS, "default", resource_version=str(core.resource_version))
        pending = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)
        await core.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(pending, 2)


async def test_encoded_watch_yields_wire_lines(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        await core.create(CONFIGMAPS, "default", configmap("a", {"k": "v"}))
        _, rv = await core.list(CONFIGMAPS, "default")
        await core.create(CONFIGMAPS, "default", configmap("b"))
        stream = core.watch_encoded(CONFIGMAPS, "default", resource_version=rv, timeout_seconds=0.3)
        await core.patch(CONFIGMAPS, "default", "a", {"data": {"k": "w"}}, "application/merge-patch+json")
        events = [e async for e in stream]
        assert [t for t, _ in events] == ["ADDED", "MODIFIED"]
        assert json.loads(events[0][1])["object"]["metadata"]["name"] == "b"
        for event_type, line in events:
            assert line.endswith(b"\n")
            decoded = json.loads(line)
            assert decoded["type"] == event_type and decoded["object"]["kind"] == "ConfigMap"
        assert json.loads(events[1][1])["object"]["data"] == {"k": "w"}
        # The same version appears as in the object stream.
        plain = [e async for e in core.watch(CONFIGMAPS, "default", resource_version=rv, timeout_seconds=0.1)]
        assert [json.loads(line)["object"] for _, line in events] == [e["object"] for e in plain]


async def test_many_watchers_each_see_every_event_in_order(tmp_path: Path) -> None:
    async with open_core(tmp_path) as core:
        start = str(core.resource_version)
        watchers, objects = 20, 200

        async def follow() -> list[int]:
            seen: list[int] = []
            async for event in core.watch_encoded(CONFIGMAPS, "default", resource_version=start):
                seen.append(int(json.loads(event[1])["object"]["metadata"]["resourceVersion"]))
                if len(seen) == objects:
                    break
            return seen

        tasks = [asyncio.ensure_future(follow()) for _ in range(watchers)]
        await asyncio.sleep(0.01)
        for i in range(objects):
            await core.create(CONFIGMAPS, "default", configmap(f"c{i}"))
            await asyncio.sleep(0)
        results = await asyncio.wait_for(asyncio.gather(*tasks), 30)
        items, _ = await core.list(CONFIGMAPS, "default")
        expected = sorted(int(i["metadata"]["resourceVersion"]) for i in items)
        assert all(seen == expected for seen in results)


def test_core_satisfies_the_api_core_protocol() -> None:
    def as_api_core(core: Core) -> ApiCore:
        return core  # checked by mypy

    assert callable(as_api_core)
    for name in ("create", "get", "list", "update", "patch", "delete", "watch", "registry"):
        assert hasattr(Core, name)
