"""Work sharded across Ray workers, one way for the run (`pipeline/executors/ray_executor.py`) and the eval
(`evals/ray_stage.py`): join the cluster, deal the work round-robin into one shard per CPU, start one streaming task
per shard, and on the driver take each value a task yields as it arrives.

A task is a plain generator (Ray streams what it yields); `streamed` runs the worker's async work inside it on a loop
of its own. What a worker needs travels with its task as data (settings, constitution, items); each worker makes its
own models from the driver's CallSettings. Imported only when Ray is chosen: it imports `ray`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import ray

from constitutional.errors import UserError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Generator

T = TypeVar("T")


def connect(address: str | None = None) -> int:
    """Join the cluster at `address` (None: start a local instance), unless this process has already; its CPUs."""
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=None if address else False)  # None: ray's default
    return int(ray.cluster_resources().get("CPU", 1))


def deal(items: list[T], cpus: int) -> list[list[T]]:
    """`items` dealt round-robin into one shard per CPU, at most one per item (and one, empty, for no items)."""
    shards = max(1, min(len(items), cpus))
    return [items[k::shards] for k in range(shards)]


async def drain(streams: list[ray.ObjectRefGenerator], take: Callable[[Any], None]) -> None:
    """Every value the tasks' streams yield, handed to `take` as it arrives. A task that raised a UserError (a model a
    worker cannot make, say) raises it here as it is, so the command exits 2 with its fix."""

    async def one(stream: ray.ObjectRefGenerator) -> None:
        async for ref in stream:
            take(await ref)

    try:
        await asyncio.gather(*(one(stream) for stream in streams))
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, UserError):
            raise exc.cause from None
        raise


def streamed(results: AsyncGenerator[T, None], *closers: Callable[[], Awaitable[object]]) -> Generator[T, None, None]:
    """A worker's async `results` as a plain generator (a Ray task's body), run on a loop of its own. When they end, or
    the task is stopped early, `results` is closed (cancelling the work in flight), then each closer is awaited (the
    models' connections) on the same loop."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                result = loop.run_until_complete(results.__anext__())
            except StopAsyncIteration:
                break
            yield result
    finally:
        loop.run_until_complete(results.aclose())
        for close in closers:
            loop.run_until_complete(close())
        loop.close()
