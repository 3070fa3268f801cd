"""The one bounded-concurrency helper: bounded, streaming, ordered when asked, and cancelled as a whole."""

import asyncio
from contextlib import aclosing

import pytest

from constitutional.concurrency import Bounded


class Watch:
    def __init__(self):
        self.now = self.most = self.taken = 0

    def items(self, n):
        for i in range(n):
            self.taken += 1
            yield i

    async def work(self, n):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep((n * 7 % 5) / 1000)  # later items often finish first
            return n
        finally:
            self.now -= 1


def collect(items, work, limit, ordered):
    async def run():
        results = Bounded(limit).map(items, work, ordered=ordered)
        async with aclosing(results):
            return [r async for r in results]

    return asyncio.run(run())


@pytest.mark.parametrize("ordered", [True, False])
def test_every_item_runs_at_most_limit_at_once(ordered):
    watch = Watch()
    results = collect(watch.items(60), watch.work, 5, ordered)
    assert sorted(results) == list(range(60)) and watch.most == 5
    if ordered:
        assert results == list(range(60))
    else:
        assert results != list(range(60))  # as they finish


def test_the_input_is_read_only_as_slots_free_up():
    watch = Watch()
    seen = []

    async def run():
        results = Bounded(3).map(watch.items(1_000_000), watch.work)
        async with aclosing(results):
            async for _ in results:
                seen.append(watch.taken)
                if len(seen) == 10:
                    break

    asyncio.run(run())
    assert max(seen) <= 10 + 3 and watch.now == 0  # leaving early cancelled the work in flight


def test_a_failure_reaches_the_consumer_and_cancels_the_rest():
    cancelled = []

    async def work(n):
        if n == 3:
            raise ValueError("three")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    with pytest.raises(ValueError, match="three"):
        collect(range(100), work, 4, ordered=False)
    assert sorted(cancelled) == [0, 1, 2]


def test_cancelling_the_consumer_cancels_the_work_in_flight():
    cancelled = []

    async def work(n):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    async def run():
        async def consume():
            results = Bounded(4).map(range(100), work, ordered=True)
            async with aclosing(results):
                async for _ in results:
                    pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert sorted(cancelled) == [0, 1, 2, 3]


def test_a_limit_also_gates_single_pieces_of_work():
    watch = Watch()
    gate = Bounded(2)

    async def one(n):
        async with gate:
            return await watch.work(n)

    async def run():
        return await asyncio.gather(*(one(n) for n in range(20)))

    assert asyncio.run(run()) == list(range(20)) and watch.most == 2
    with pytest.raises(ValueError):
        Bounded(0)
