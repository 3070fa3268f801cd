"""Draft → (critique → revise) × rounds, for one prompt."""

from __future__ import annotations

import random
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from constitutional import activity
from constitutional.calls.request import Call
from constitutional.models.base import ChatModel, ModelError, Usage
from constitutional.models.structured import StructuredOutputError, generate_structured
from constitutional.prompts import render
from constitutional.record import Critique, Record, RecordError, Step, critique_schema
from constitutional.text import quote_in

if TYPE_CHECKING:
    from constitutional.constitution import Constitution, Principle
    from constitutional.pipeline.prompt_sets import PromptItem

# A reply saying nothing needs changing is not an answer; the previous answer stands.
NO_CHANGE = re.compile(
    r"^\W*(no (revisions?|changes?|edits?|critique)s? (are |is )?(needed|necessary|required)"
    r"|(the )?(original )?response (is|was) (already )?(fine|good|correct|acceptable|compliant)"
    r"|nothing to (revise|change))\W*$",
    re.IGNORECASE,
)
PREAMBLE = re.compile(
    r"^\s*(here is |here's )?(the |my )?(improved |revised |new )?(response|revision|answer)\s*:\s*", re.IGNORECASE
)


@dataclass(frozen=True)
class LoopSettings:
    rounds: int = 1
    sample: int | None = None  # None: every principle each round; K: K drawn at random per round
    seed: int = 0
    max_tokens: dict = field(default_factory=lambda: {"draft": 256, "critique": 384, "revise": 320})


def parse_selection(selection: str) -> int | None:
    """'all' → None; 'sample:K' → K."""
    if selection == "all":
        return None
    if selection.startswith("sample:") and selection[7:].isdigit() and int(selection[7:]) > 0:
        return int(selection[7:])
    raise ValueError(f"--principles must be 'all' or 'sample:K' (K ≥ 1), not '{selection}'")


def choose_principles(constitution: Constitution, settings: LoopSettings, prompt_id: str, round_no: int) -> list[Principle]:
    principles = constitution.principles
    if settings.sample is None or settings.sample >= len(principles):
        return list(principles)
    # Seeded per prompt and round, so the draw does not depend on concurrency or order.
    rng = random.Random(f"{settings.seed}:{prompt_id}:{round_no}")
    weights = [p.weight for p in principles]
    chosen: list[Principle] = []
    pool = list(zip(principles, weights))
    for _ in range(settings.sample):
        pick = rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
        chosen.append(pool.pop(pick)[0])
    return chosen


DELIMITER = re.compile(r"^\s*(<<<|>>>)\s*$", re.MULTILINE)  # the template's text fences, echoed back


def clean_revision(text: str) -> str | None:
    """The revision text, or None when the model only said that nothing needs changing."""
    text = DELIMITER.sub("", PREAMBLE.sub("", text.strip(), count=1)).strip()
    if not text or NO_CHANGE.match(text):
        return None
    return text


@dataclass
class Reply:
    text: str
    usage: Usage
    parsed: Any = None  # for a structured call: the validated `reply_type` object


Plan = Generator[Call, Reply, Record]


def plan(item: PromptItem, constitution: Constitution, settings: LoopSettings) -> Plan:
    """The loop for one prompt as a generator: it yields each Call, is sent its Reply, and returns the Record.

    A failed call is thrown into it (ModelError, StructuredOutputError) and becomes the record's error.
    `process` drives it, one call at a time; a batched model (calls/batch.py) sends the calls of many prompts
    in one provider batch.
    """
    record = Record(id=item.id, prompt=item.prompt, meta=item.meta)
    usage = Usage()
    stage = "draft"
    try:
        draft = yield Call("draft", render("draft", prompt=item.prompt), settings.max_tokens["draft"])
        usage.add(draft.usage)
        record.draft = answer = draft.text.strip()
        for round_no in range(1, settings.rounds + 1):
            principles = choose_principles(constitution, settings, item.id, round_no)
            ids = [p.id for p in principles]
            stage = "critique"
            reply = yield _critique_call(item, principles, ids, answer, settings)
            usage.add(reply.usage)
            critique = _checked(reply.parsed, answer)
            step = Step(round=round_no, principles=ids, critique=critique)
            record.steps.append(step)
            if not critique.needs_revision:
                step.note = "critique found nothing to revise"
                if settings.sample is None:
                    break  # same answer, same principles: another round would repeat this critique
                continue
            stage = "revise"
            revised = yield Call(
                "revise",
                render("revise", prompt=item.prompt, response=answer, problems=_problems(critique, constitution)),
                settings.max_tokens["revise"],
            )
            usage.add(revised.usage)
            step.revision = clean_revision(revised.text)
            if step.revision is None:
                step.note = "the reviser returned no new text; the previous answer stands"
            else:
                answer = step.revision
        record.final = answer
    except StructuredOutputError as exc:
        usage.add(exc.usage)
        record.error = RecordError(stage=stage, message=str(exc), raw=exc.raw[:2000])
    except ModelError as exc:
        record.error = RecordError(stage=stage, message=str(exc), retryable=exc.retryable)
    record.usage = usage
    return record


def _critique_call(item: PromptItem, principles: list[Principle], ids: list[str], answer: str, settings: LoopSettings) -> Call:
    return Call(
        "critique",
        render(
            "critique",
            principles=_principle_list(principles),
            examples=_examples(principles),
            prompt=item.prompt,
            response=answer,
        ),
        settings.max_tokens["critique"],
        schema=critique_schema(ids, settings.max_tokens["critique"]),
        reply_type=Critique,
        context={"principles": set(ids)},
    )


def _checked(critique: Critique, answer: str) -> Critique:
    """The critique, with each quote checked against the answer and `needs_revision` set."""
    # A critique that names no violation has nothing to revise.
    critique.needs_revision = bool(critique.violations)
    for violation in critique.violations:
        violation.quote_found = quote_in(answer, violation.quote)
    return critique


async def process(item: PromptItem, model: ChatModel, constitution: Constitution, settings: LoopSettings) -> Record:
    """Run one prompt's loop, one call at a time."""
    steps = plan(item, constitution, settings)
    call = next(steps)
    try:
        while True:
            try:
                reply = await _answer(call, model)
            except (ModelError, StructuredOutputError) as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(reply)
    except StopIteration as finished:
        return finished.value


STEP_NAMES = {"draft": "drafting", "critique": "critiquing", "revise": "revising"}


async def _answer(call: Call, model: ChatModel) -> Reply:
    with activity.step(STEP_NAMES.get(call.stage, call.stage)):
        return await _reply(call, model)


async def _reply(call: Call, model: ChatModel) -> Reply:
    if call.reply_type is None:
        completion = await model.generate(call.messages, max_tokens=call.max_tokens)
        return Reply(completion.text, completion.usage)
    assert call.schema is not None  # plan() gives every structured call (one with a reply_type) its schema
    parsed: object
    parsed, usage = await generate_structured(
        model, call.messages, call.reply_type, call.schema, context=call.context, max_tokens=call.max_tokens
    )
    return Reply("", usage, parsed)


def _principle_list(principles: list[Principle]) -> str:
    return "\n".join(f"- {p.id}: {' '.join(p.critique_request.split())}" for p in principles)


def _examples(principles: list[Principle]) -> str:
    shots = [(p, e) for p in principles for e in p.examples]
    if not shots:
        return ""
    blocks = [f"Example ({p.id}):\nREQUEST: {e.prompt}\nRESPONSE: {e.response}\nCRITIQUE: {e.critique}" for p, e in shots]
    return "\nWorked examples:\n" + "\n\n".join(blocks) + "\n"


def _problems(critique: Critique, constitution: Constitution) -> str:
    lines = []
    for v in critique.violations:
        principle = constitution.principle(v.principle)
        quoted = f'"{v.quote}" — ' if v.quote_found else ""  # a quote not in the answer would mislead the reviser
        lines.append(
            f"- {principle.name}: {quoted}{v.explanation}\n  Required change: {' '.join(principle.revision_request.split())}"
        )
    return "\n".join(lines)
