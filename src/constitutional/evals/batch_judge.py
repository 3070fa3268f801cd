"""The eval's judge through the provider's batch API (`cai run --executor batch`), at its batch price.

A judge call can depend on an earlier answer (the re-ask after a reply that does not parse), so the
calls are found in passes. Each pass runs the whole eval with a judge model that answers the calls
fetched already (or found in the reply cache) and defers every other one: it keeps the call and fails
it as a ModelError, so the pass goes on to every call that does not wait on it. The deferred calls go
to the provider as one wave, through the run's own `Waves`. The first pass that defers nothing is the
eval whose files are written: every judge call in it got its reply, as from a synchronous judge.

The judge's waves are saved under "judge" in DIR/batches.json. A restarted process runs the same
passes, finds each wave saved and reads its results back instead of submitting it again. A custom id
names its call's content (the reply cache's key), so a result can only answer the call it was made
for. Fetched replies go into the reply cache only once the judge's job is finished: the cache is read
in every pass, and a restarted job must defer the same calls as the process before it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from constitutional.calls.batch import BatchAPI, Outcome, Waves, batch_api, charge, first_poll_wait
from constitutional.calls.batch_log import BatchLog
from constitutional.calls.managed import CallStats, ManagedModel
from constitutional.calls.request import Call
from constitutional.evals.debate import CHECKLIST, JudgeSetup
from constitutional.evals.lines import EvalLine, read_eval_lines
from constitutional.evals.stage import EvalResult, assess, lines_tmp, write_eval
from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from constitutional.constitution import LoadedConstitution
    from constitutional.evals.items import EvalInput
    from constitutional.evals.scorer import Scorer


class Deferred(ModelError):
    """A judge call whose reply is not fetched yet: the pass records it as a failed call, and it is batched."""


def charged_once(charged: set[str], key: str, outcome: Completion) -> Completion:
    """`outcome` with its usage the first time a pass asks for `key`; the same call again in that pass was made
    once, so it counts as a cache hit."""
    if key in charged:
        return Completion(outcome.text, usage=Usage(cache_hits=1))
    charged.add(key)
    return outcome


class PassJudge(ChatModel):
    """The judge model of one pass: replies fetched from batches, then the reply cache; any other call deferred."""

    def __init__(self, model: ManagedModel, fetched: dict[str, Outcome]):
        self.spec = model.spec
        self.structured_reasks = model.structured_reasks
        self.model = model
        self.fetched = fetched
        self.deferred: dict[str, Call] = {}
        self.charged: set[str] = set()

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        key = self.model.cache_key(messages, schema, params)
        outcome = self.fetched.get(key)
        if isinstance(outcome, ModelError):
            raise outcome
        if outcome is not None:
            return charged_once(self.charged, key, outcome)
        hit = self.model.cache.get(key) if self.model.cache is not None else None
        if hit is not None:
            return Completion(text=hit["text"], usage=Usage(cache_hits=1))
        self.deferred[key] = Call("judge", messages, params["max_tokens"], schema)
        raise Deferred("the reply comes from the next batch")


class RememberedDebater(ChatModel):
    """A debater other than the judge model, in a batched eval: its calls are made synchronously, once, and every
    later pass gets the same reply (or failure) from `replies`, so the passes defer the same judge calls."""

    def __init__(self, model: ManagedModel, replies: dict[str, Completion | ModelError]):
        self.spec = model.spec
        self.structured_reasks = model.structured_reasks
        self.model = model
        self.replies = replies
        self.charged: set[str] = set()

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        key = self.model.cache_key(messages, schema, params)
        if key not in self.replies:
            try:
                self.replies[key] = await self.model.generate(messages, schema, **params)
            except ModelError as exc:
                self.replies[key] = exc
        outcome = self.replies[key]
        if isinstance(outcome, ModelError):
            raise outcome
        return charged_once(self.charged, key, outcome)


def pass_setup(setup: JudgeSetup, model: ManagedModel, judge: PassJudge, replies: dict) -> JudgeSetup:
    """One pass's JudgeSetup: a debater that is the judge model argues through the pass's batched judge; another
    is called directly and remembered."""
    if setup.debaters is None:
        return JudgeSetup(setup.mode)
    pair: list[ChatModel] = []
    for debater in setup.debaters:
        assert isinstance(debater, ManagedModel)  # JudgeChoice.setup makes every debater one
        pair.append(judge if debater is model else RememberedDebater(debater, replies))
    return JudgeSetup(setup.mode, (pair[0], pair[1]))


async def evaluate_in_batches(
    source: EvalInput,
    loaded: LoadedConstitution,
    model: ManagedModel,
    api: BatchAPI,
    log_path: Path,
    out: Path,
    on_line: Callable[[EvalLine], None],
    say: Callable[[str], None],
    scorer: Scorer | None = None,
    setup: JudgeSetup = CHECKLIST,
) -> EvalResult:
    """The eval of `source` with every judge call made through `api`; writes its files like `run_eval`. In debate mode
    a debater that is the judge model argues through the same batches, so the debate's rounds are the passes' waves;
    another debater is called directly, once per call (RememberedDebater)."""
    started = datetime.now(UTC)
    log = BatchLog.judge(log_path, model.spec)
    if log.job["waves"]:
        say(f"resuming the judge's batches in {log_path}")
    waves = Waves(api, log, say, first_poll_wait(), CallStats(), model.retry)
    fetched: dict[str, Outcome] = {}
    replies: dict[str, Completion | ModelError] = {}  # the other debaters', across passes
    try:
        number = 0
        while True:
            judge = PassJudge(model, fetched)
            result = await assess(
                source, loaded, judge, started, lines_tmp(out), scorer=scorer, setup=pass_setup(setup, model, judge, replies)
            )
            if not judge.deferred:
                break
            keys = {f"j{number}-{key[:24]}": key for key in judge.deferred}
            outcomes = await waves.run(number, {custom_id: judge.deferred[key] for custom_id, key in keys.items()})
            for custom_id, outcome in outcomes.items():
                if isinstance(outcome, Completion):
                    charge(outcome, model.price)
                fetched[keys[custom_id]] = outcome
            number += 1
        write_eval(out, result)
        log.finish()
        if model.cache is not None:
            for key, outcome in fetched.items():
                if isinstance(outcome, Completion):
                    model.cache.put(key, {"text": outcome.text})
    finally:
        await api.aclose()
        await setup.aclose(model)
        await model.aclose()
    for line in read_eval_lines(out / "eval.jsonl"):
        on_line(line)
    return result


def judge_in_batches(
    source: EvalInput,
    loaded: LoadedConstitution,
    judge_model: ManagedModel,
    out: Path,
    on_line: Callable[[EvalLine], None],
    say: Callable[[str], None],
    scorer: Scorer | None = None,
    setup: JudgeSetup = CHECKLIST,
) -> EvalResult:
    """The eval with the judge's calls made through its provider's batch API, saved in DIR/batches.json."""
    api = batch_api(judge_model.inner)
    log = out / "batches.json"
    return asyncio.run(evaluate_in_batches(source, loaded, judge_model, api, log, out, on_line, say, scorer, setup))
