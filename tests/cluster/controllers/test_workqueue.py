"""The controllers' work queue: de-duplication, no concurrent processing of a key, delays, backoff."""

from __future__ import annotations

import asyncio

from kaptain.cluster.controllers.workqueue import WorkQueue


async def test_a_key_added_twice_is_handed_out_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.add("a")
    assert len(queue) == 2
    assert await queue.get() == "a"
    assert await queue.get() == "b"
    assert len(queue) == 0


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    # Not handed to a second worker while the first one still processes it.
    assert len(queue) == 0
    assert key is not None
    queue.done(key)
    assert len(queue) == 1
    assert await queue.get() == "a"


async def test_add_after_keeps_the_earliest_schedule() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 5.0)
    queue.add_after("a", 0.05)
    queue.add_after("a", 10.0)
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(queue.get(), timeout=2) == "a"
    assert asyncio.get_running_loop().time() - started < 1.0
    queue.shutdown()


async def test_rate_limited_delays_double_until_forgotten() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.04)
    assert [queue.backoff_delay(n) for n in range(4)] == [0.01, 0.02, 0.04, 0.04]
    queue.add_rate_limited("a")
    queue.add_rate_limited("a")
    assert queue.num_requeues("a") == 2
    assert await asyncio.wait_for(queue.get(), timeout=2) == "a"
    queue.forget("a")
    assert queue.num_requeues("a") == 0


async def test_shutdown_releases_waiting_getters_and_drops_timers() -> None:
    queue: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add_after("later", 0.01)
    queue.shutdown()
    assert await asyncio.wait_for(waiter, timeout=1) is None
    await asyncio.sleep(0.05)
    assert len(queue) == 0
    queue.add("x")
    assert await queue.get() is None
