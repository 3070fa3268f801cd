"""Bounded concurrency, in one place: the runner, the eval stage, the judge and the Ray executor all use `Bounded`.

    limit = Bounded(8)
    async with limit:                                    # one piece of work, holding one of the 8 slots
        ...
    results = limit.map(items, work, ordered=True)       # work(item) for every item, at most 8 at once
    async with aclosing(results):
        async for result in results:
            ...

`map` streams: it takes the next item from `items` only when a slot is free, so a 100k-item input is never held
in memory. It hands results over as they finish (or, with `ordered=True`, in the items' order). Closing it, or
cancelling whoever consumes it, cancels the work in flight; a failure of one piece of work is raised to the
consumer and cancels the rest.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator

T = TypeVar("T")
R = TypeVar("R")
_END: Any = object()  # the end of the input: compared, by identity, with items of any type


class Bounded:
    """At most `limit` pieces of work at once. An item of `map` holds its slot from the moment it is taken from the
    input until its result is handed over, so results waiting for their turn count too (the memory stays bounded)."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"a concurrency limit is at least 1, not {limit}")
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)

    async def __aenter__(self) -> Bounded:
        await self._slots.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._slots.release()

    async def map(
        self, items: Iterable[T], work: Callable[[T], Awaitable[R]], *, ordered: bool = False
    ) -> AsyncGenerator[R, None]:
        """`work(item)` for every item, at most `limit` at once; results as they finish, or in order if `ordered`.
        Consume it inside `contextlib.aclosing`, so that leaving early cancels the work still in flight."""
        source = iter(items)
        running: dict[asyncio.Task, None] = {}  # in the order the items were taken
        finished: asyncio.Queue[asyncio.Task] = asyncio.Queue()
        more = True
        try:
            while True:
                while more and (not running or not self._slots.locked()):
                    more = await self._start(source, work, running, None if ordered else finished.put_nowait)
                if not running:
                    return
                task = next(iter(running)) if ordered else await finished.get()
                result = await task  # a failure is the consumer's: the rest is cancelled below
                del running[task]
                self._slots.release()
                yield result
        finally:
            await self._cancel(running)

    async def _start(
        self,
        source: Iterator[T],
        work: Callable[[T], Awaitable[R]],
        running: dict,
        on_done: Callable[[asyncio.Task[R]], object] | None,
    ) -> bool:
        """Take the next item, with a slot, and start its work; False when the input is done."""
        await self._slots.acquire()
        try:
            item = next(source, _END)
            if item is _END:
                self._slots.release()
                return False
            task = asyncio.ensure_future(work(item))
        except BaseException:
            self._slots.release()
            raise
        running[task] = None
        if on_done is not None:
            task.add_done_callback(on_done)
        return True

    async def _cancel(self, running: dict) -> None:
        """Cancel the work in flight, wait for it to stop, and give back its slots."""
        for task in running:
            task.cancel()
        try:
            if running:
                await asyncio.wait(running)
        finally:
            for _ in running:
                self._slots.release()
            running.clear()


__all__ = ["Bounded"]
