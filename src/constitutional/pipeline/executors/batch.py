"""`--executor batch`: the run's model calls go through the provider's batch API, at its batch price.

Every prompt runs the in-process runner's own loop (`loop.plan`), driven in waves: each prompt's next
call joins the wave, the wave goes to the provider as one batch (split when it is larger than the
provider allows), and the replies, joined back by custom_id, move every prompt on to its next call.
With one round the waves are the stages: drafts, critiques, revisions. A prompt whose loop ends has
its record written exactly as the runner writes it.

There is no re-ask in a batch: a critique that does not parse becomes the record's error (the
in-process runner asks once more). OpenAI requests carry the strict json_schema response_format, with
no fallback to weaker modes; Anthropic requests force the reply tool, as the synchronous providers do.

DIR/batches.json (written atomically) holds the job's prompt ids and every wave's batch ids and
states. A restarted process submits nothing it submitted before: it polls the saved batches and
replays the finished waves from the provider's stored results to find where each prompt was.
A batch is found again even if the process died between the provider accepting it and batches.json
recording it: an OpenAI batch by its uploaded file, an Anthropic one as the only batch of its size
listed above the newest batch saved before creating it. The eval's judge runs in waves of its own (batch_judge.py).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from constitutional.calls.batch import Outcome, Waves, charge, first_poll_wait
from constitutional.calls.batch_log import BatchLog
from constitutional.calls.retry import RetryPolicy
from constitutional.models.base import ModelError
from constitutional.models.structured import StructuredOutputError, describe_error, parse_reply
from constitutional.pipeline.loop import Plan, Reply, plan
from constitutional.pipeline.runner import RunConfig, RunOutput, RunResult, RunState, Scan, run_output, usable_prompts
from constitutional.record import Record, RecordError

if TYPE_CHECKING:
    from collections.abc import Callable

    from constitutional.calls.batch import BatchAPI
    from constitutional.calls.pricing import Price
    from constitutional.calls.request import Call
    from constitutional.pipeline.prompt_sets import PromptItem


async def run_batch_job(
    config: RunConfig,
    api: BatchAPI,
    price: Price | None,
    scan: Scan,
    state: RunState | None = None,
    on_record: Callable[[Record], None] = lambda r: None,
    say: Callable[[str], None] = lambda line: None,
    retry: RetryPolicy | None = None,
) -> RunResult:
    """The job through the provider's batch API; `retry` is the run's retry policy (default: none)."""
    retry = retry or RetryPolicy(max_retries=0)
    state = state or RunState()
    with run_output(config, scan, state, on_record) as output:
        try:
            while True:
                items = {item.id: item for item in usable_prompts(config)}
                path = config.out / "batches.json"
                log = BatchLog.resume(path, config.model_spec)
                if log is None:
                    todo = [i for i in items if i not in state.done_ids]
                    if not todo:
                        break
                    log = BatchLog.start(path, config.model_spec, todo)
                    log.save()
                else:
                    say(f"resuming the batches in {path}")
                waves = Waves(api, log, say, first_poll_wait(), output.result.stats, retry)
                await _run_waves(config, waves, items, price, state, output)
                log.finish()
        finally:
            await api.aclose()
    return output.result


async def _run_waves(
    config: RunConfig, waves: Waves, items: dict[str, PromptItem], price: Price | None, state: RunState, output: RunOutput
) -> None:
    plans: dict[int, Plan] = {}
    pending: dict[int, Call] = {}
    for n, prompt_id in enumerate(waves.log.prompt_ids):
        if prompt_id in items:  # a prompt gone from the file since submission is left out
            plans[n] = plan(items[prompt_id], config.constitution.constitution, config.settings)
            pending[n] = next(plans[n])
    number = 0
    while pending:
        calls = {f"w{number}-{n}": call for n, call in pending.items()}
        outcomes = await waves.run(number, calls)
        following: dict[int, Call] = {}
        for n, call in pending.items():
            item = items[waves.log.prompt_ids[n]]
            try:
                following[n] = _advance(plans[n], call, outcomes[f"w{number}-{n}"], price)
            except StopIteration as finished:
                if item.id not in state.done_ids:  # replayed after a restart: written already
                    output.write(finished.value)
                    state.done_ids.add(item.id)
            except Exception as exc:  # noqa: BLE001 - a surprise in one prompt is recorded, as the runner does
                tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
                output.write(
                    Record(
                        id=item.id,
                        prompt=item.prompt,
                        meta=item.meta,
                        error=RecordError(stage="unknown", message=f"unexpected error: {tail}"),
                    )
                )
                state.done_ids.add(item.id)
        pending = following
        number += 1


def _advance(steps: Plan, call: Call, outcome: Outcome, price: Price | None) -> Call:
    """Give a prompt's loop the outcome of its call; return its next call (StopIteration: its record)."""
    if isinstance(outcome, ModelError):
        return steps.throw(outcome)
    charge(outcome, price)
    if call.reply_type is None:
        return steps.send(Reply(outcome.text, outcome.usage))
    try:
        parsed: BaseModel = parse_reply(outcome.text, call.reply_type, call.context)
    except (ValidationError, ValueError) as exc:
        error = StructuredOutputError(
            f"reply did not match the schema (no re-ask in a batch): {describe_error(exc)}", outcome.text, outcome.usage
        )
        return steps.throw(error)
    return steps.send(Reply(outcome.text, outcome.usage, parsed))
