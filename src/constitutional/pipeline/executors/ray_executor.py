"""`--executor ray`: the prompt set sharded across Ray workers, each running the in-process pipeline.

The driver reads the prompts, deals them round-robin into one shard per CPU of the cluster (at most
one per prompt), and starts one task per shard. A task builds its own model with its share of the
global rate limits (--rpm and --tpm divided by the number of shards; --concurrency applies per
worker) and streams each record back as it finishes. The driver writes every record through the
runner's RecordWriter, once per prompt id, so a retried task cannot duplicate one, and an
interrupted run resumes from records.jsonl like any other.

Workers need `constitutional` (and the provider's SDK) installed on every node; prompts, the
constitution and settings travel with the tasks, so no shared file system is needed. A worker's model is made
from the driver's CallSettings (its retries, cache folder and first retry wait resolved by the driver), never
from the worker's own environment.
"""

from __future__ import annotations

import asyncio
from contextlib import closing
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import ray

from constitutional.calls.factory import Calls
from constitutional.concurrency import Bounded
from constitutional.pipeline.runner import (
    RunConfig,
    RunOutput,
    RunResult,
    RunState,
    Scan,
    process_safely,
    run_output,
    usable_prompts,
)
from constitutional.ray_shards import connect, deal, drain, streamed
from constitutional.record import Record

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Iterator

    from constitutional.calls.managed import ManagedModel
    from constitutional.pipeline.executors import Job
    from constitutional.pipeline.prompt_sets import PromptItem


class RayExecutor:
    """`--executor ray`, joining the cluster at `address` (default: a local instance)."""

    def __init__(self, address: str | None = None):
        self.address = address

    def check(self, model_spec: str) -> None:
        pass  # any model: each worker makes its own

    def run(self, job: Job) -> RunResult:
        asyncio.run(job.model.aclose())  # the workers make their own clients
        return run_ray_job(job.config, job.scan, job.state, job.on_record, job.say, self.address)


def run_ray_job(
    config: RunConfig,
    scan: Scan,
    state: RunState,
    on_record: Callable[[Record], None],
    say: Callable[[str], None],
    address: str | None = None,
) -> RunResult:
    cpus = connect(address)
    items = [item for item in usable_prompts(config) if item.id not in state.done_ids]
    shards = deal(items, cpus)
    say(f"ray: {len(items)} prompts in {len(shards)} shard(s) on a cluster of {cpus} CPUs")
    with run_output(config, scan, state, on_record) as output:
        if items:
            asyncio.run(_collect(config, shards, set(state.done_ids), output))
    return output.result


async def _collect(config: RunConfig, shards: list[list[PromptItem]], written: set[str], output: RunOutput) -> None:
    def take(streamed: tuple[str, dict[str, Any]]) -> None:
        kind, data = streamed
        if kind == "stats":
            for name, value in data.items():
                setattr(output.result.stats, name, getattr(output.result.stats, name) + value)
        elif data["id"] not in written:  # a task Ray retried streams its shard again
            written.add(data["id"])
            output.write(Record.model_validate(data))

    await drain([_run_shard.remote(config, shard, len(shards)) for shard in shards], take)


@ray.remote(num_returns="streaming", num_cpus=1)
def _run_shard(config: RunConfig, items: list[PromptItem], shards: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ("record", record) as each prompt of the shard finishes, then ("stats", call counts)."""
    calls = worker_calls(config, shards)
    model = calls.model(config.model_spec)
    try:
        with closing(streamed(_records(config, model, items), model.aclose)) as records:
            for record in records:
                yield "record", record.model_dump(mode="json")
    finally:
        calls.close()
    yield "stats", asdict(model.stats)


def worker_calls(config: RunConfig, shards: int) -> Calls:
    """A worker's call factory: the driver's CallSettings (resolved by the driver), with its share of the rate limits."""
    return Calls(config.calls.share(shards))


def _records(config: RunConfig, model: ManagedModel, items: list[PromptItem]) -> AsyncGenerator[Record, None]:
    """The shard's records as they finish, at most config.concurrency prompts in flight (closed by the caller)."""
    return Bounded(config.concurrency).map(items, lambda item: process_safely(item, model, config))
