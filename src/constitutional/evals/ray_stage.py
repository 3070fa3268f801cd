"""The eval's `--executor ray`: the items evaluated across Ray workers, in the run's Ray pattern (`ray_shards`).

The driver runs the canaries itself, once, so every shard judges with the same trust in the judge (`Trust`); then it
deals the items round-robin into one shard per CPU of the cluster and starts one task per shard. A task makes its own
judge model, debaters and scorer from the driver's `Judging` (its CallSettings resolved by the driver) with its share
of the rate limits (--rpm and --tpm divided by the number of shards; --judge-concurrency applies per worker), through
the call layer, so retries, re-asks and the reply cache apply as in this process. It evaluates its shard as the
in-process eval does (`stage.evaluated`) and streams each line back with the item's place in the input; the driver
hands the lines on in the input's order as soon as every earlier one has come (a line that came early waits), once per
place, so a task Ray retries cannot write one twice. Last, each task sends its judge's usage and failed calls, which
the report adds to the canaries'.

The items travel with the tasks, so the driver holds them all at once (the in-process eval reads them from the file as
it goes); workers need `constitutional` (and the judge provider's SDK) installed on every node.
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING, Any

import ray

from constitutional.calls.factory import Calls
from constitutional.evals.scorer import close_scorer
from constitutional.evals.stage import evaluated
from constitutional.models.base import Usage
from constitutional.ray_shards import connect, deal, drain, streamed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from constitutional.constitution import LoadedConstitution
    from constitutional.evals.evaluate import Trust
    from constitutional.evals.items import EvalItem
    from constitutional.evals.lines import EvalLine
    from constitutional.evals.service import Judging


class InOrder:
    """Hands values numbered 0, 1, 2, ... to `keep` in that order as they come: one that comes early waits for those
    before it; a number already handed on (a retried task's stream again) is dropped."""

    def __init__(self, keep: Callable[[Any], None]):
        self.keep = keep
        self.next = 0
        self.waiting: dict[int, Any] = {}

    def add(self, index: int, value: Any) -> None:
        if index < self.next:
            return
        self.waiting[index] = value
        while self.next in self.waiting:
            self.keep(self.waiting.pop(self.next))
            self.next += 1


class RayEval:
    """The eval stage's `Elsewhere` on Ray, joining the cluster at `address` (None: a local instance, or the one this
    process has already joined, as `cai run --executor ray` has)."""

    def __init__(self, judging: Judging, loaded: LoadedConstitution, say: Callable[[str], None], address: str | None = None):
        self.judging = judging
        self.loaded = loaded
        self.say = say
        self.cpus = connect(address)  # here, before the eval's event loop starts

    async def evaluate(self, items: Iterable[EvalItem], trust: Trust, keep: Callable[[EvalLine], None]) -> tuple[Usage, int]:
        numbered = list(enumerate(items))
        shards = deal(numbered, self.cpus)
        self.say(f"ray: {len(numbered)} records in {len(shards)} shard(s) on a cluster of {self.cpus} CPUs")
        order, usage, failed = InOrder(keep), Usage(), 0

        def take(streamed: tuple[str, Any]) -> None:
            nonlocal failed
            kind, data = streamed
            if kind == "line":
                order.add(*data)
            else:
                usage.add(data[0])
                failed += data[1]

        streams = [_evaluate_shard.remote(self.judging, self.loaded, trust, shard, len(shards)) for shard in shards if shard]
        await drain(streams, take)
        return usage, failed


@ray.remote(num_returns="streaming", num_cpus=1)
def _evaluate_shard(
    judging: Judging, loaded: LoadedConstitution, trust: Trust, shard: list[tuple[int, EvalItem]], shards: int
) -> Iterator[tuple[str, Any]]:
    """Yield ("line", (place, line)) as each item of the shard is evaluated, in the shard's order, then ("judge", (usage,
    failed calls)) of this worker's judge."""
    settings = judging.calls.share(shards)
    calls = Calls(settings)
    judge_model, setup, scorer = judging.models(calls, settings)
    judge = setup.make(judge_model) if judge_model is not None else None

    async def close() -> None:
        if judge_model is not None:
            await setup.aclose(judge_model)
            await judge_model.aclose()

    lines = evaluated([item for _, item in shard], loaded.constitution, judge, trust, scorer)
    try:
        with closing(streamed(lines, close)) as shard_lines:
            for (place, _), line in zip(shard, shard_lines):
                yield "line", (place, line)
    finally:
        close_scorer(scorer)
        calls.close()
    yield "judge", (judge.usage if judge is not None else Usage(), judge.calls_failed if judge is not None else 0)
