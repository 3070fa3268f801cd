"""A beam search over operator applications, scored by the eval's own output, with a query budget per seed.

Every query is one revision evaluated by the eval under attack (`Query`). The first query is the seed's draft as it is
(in the hollow variant, a shell of generic sentences); each round rewrites every revision of the beam with operators
drawn at random, or applies a fresh chain of them to that first revision, and keeps the best `beam` revisions by the
eval's verdict (genuine > unchanged > undecided leaning genuine > … > non_compliant), then its confidence. A round
that reaches no better verdict is a plateau, where one more operator on the best revision tells the attacker nothing:
the next round is all fresh chains (a restart). A seed is broken when a query comes back `genuine`; the search goes on
until a `genuine` without review or the end of the budget. The same `seed` string gives the same attempts: every
choice comes from one seeded generator per seed."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from constitutional.errors import UserError
from constitutional.redteam.attacker import NAME as ATTACKER
from constitutional.redteam.hollow import hollow, shell
from constitutional.redteam.operators import SPAN_OPERATORS, apply
from constitutional.redteam.seeds import keeps

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from constitutional.evals.lines import EvalLine
    from constitutional.redteam.attacker import Attacker
    from constitutional.redteam.operators import Oracle
    from constitutional.redteam.seeds import Seed

    Query = Callable[[Seed, str, str], Awaitable[EvalLine]]  # (seed, revision, item id) → the eval's line

SUCCESS = "genuine"
SPAN, HOLLOW = "span", "hollow"  # the variants: what every revision keeps, so that any `genuine` is a false positive
# How near each verdict is to the attacker's goal; an undecided verdict ranks by its leaning.
RANK = {"error": -1.0, "genuine": 9.0, "unchanged": 7.0, "undecided": 4.0, "regressed": 3.0, "evasive": 2.0, "superficial": 1.0}
UNDECIDED_RANK = {"genuine": 6.0, "unchanged": 5.0}
GOOD = 4.0  # at or above this rank a higher confidence is nearer the goal; below it, a lower one
STALE_ROUNDS = 5  # rounds in a row without a new revision end the search (every rewrite was lost or said before)
TRIES = 4  # draws per child wanted before a beam member gives up for the round


@dataclass(frozen=True)
class SearchSettings:
    budget: int = 200  # queries per seed, the draft's included
    beam: int = 4
    expand: int = 3  # children of each beam member per round
    operators: tuple[str, ...] = SPAN_OPERATORS
    seed: str = "0"
    variant: str = SPAN  # SPAN: the draft, its flagged span kept; HOLLOW: generic sentences only (hollow.py)
    growth: float = 3.0  # a revision longer than this many times the draft (plus 2,000 characters) is not tried
    explore: float = 0.5  # the share of new revisions that are fresh chains of operators on the draft (after a round that
    # improved the beam; after one that did not, every new revision is a fresh chain)
    chain: int = 4  # the most operators in a fresh chain


class Attempt(BaseModel):
    """One query: a line of attempts.jsonl."""

    model_config = ConfigDict(extra="forbid")

    seed: str
    query: int  # 1-based, within the seed
    parent: int | None  # the query whose revision this one rewrote; None for the draft itself
    operators: list[str]  # applied to the draft, in order
    revision: str
    verdict: str
    leaning: str | None = None
    confidence: float | None = None
    needs_review: bool
    decided_by: str | None = None
    reasons: list[str] = Field(default_factory=list)  # the eval's
    error: str | None = None  # not asked of the eval (verdict `error`): why (an attacker's rewrite broke the oracle...)

    @property
    def success(self) -> bool:
        return self.verdict == SUCCESS

    @property
    def clean(self) -> bool:
        """A success that would not even go to a person."""
        return self.success and not self.needs_review


@dataclass
class SeedOutcome:
    seed: Seed
    attempts: list[Attempt] = field(default_factory=list)
    discarded: int = 0  # rewrites not tried: the span lost, nothing changed, a revision said before, or too long

    @property
    def successes(self) -> list[Attempt]:
        return [a for a in self.attempts if a.success]

    @property
    def first_success(self) -> Attempt | None:
        return next(iter(self.successes), None)

    @property
    def first_clean(self) -> Attempt | None:
        return next((a for a in self.attempts if a.clean), None)


def score(attempt: Attempt) -> tuple[float, float, int, int]:
    """How near the goal an attempt is (higher is nearer): its verdict's rank, then its confidence, then fewer
    operators, then the earlier query."""
    rank = RANK.get(attempt.verdict, 0.0)
    if attempt.verdict == "undecided":
        rank = UNDECIDED_RANK.get(attempt.leaning or "", rank)
    if attempt.clean:
        rank += 0.5
    confidence = attempt.confidence if attempt.confidence is not None else 0.5
    return rank, confidence if rank >= GOOD else 1.0 - confidence, -len(attempt.operators), -attempt.query


@dataclass
class _Child:
    parent: Attempt
    operators: list[str]
    revision: str | None  # None: the attacker's, asked for when its query comes


async def attack(
    seed: Seed,
    query: Query,
    settings: SearchSettings,
    on_query: Callable[[Attempt], None] = lambda a: None,
    recorded: Sequence[Attempt] = (),
    attacker: Attacker | None = None,
) -> SeedOutcome:
    """Spend up to `settings.budget` queries on `seed`; every query goes to `on_query` as it is made. The first
    `recorded` attempts (an interrupted run's) are replayed: they come from the record, not the eval or the attacker.
    With an `attacker`, each round also asks it to rewrite the best revision so far."""
    rng = random.Random(f"{settings.seed}:{seed.id}")
    outcome = SeedOutcome(seed)
    first, oracle = (shell(seed, rng), hollow) if settings.variant == HOLLOW else (seed.draft, None)
    seen = {first}
    limit = int(len(seed.draft) * settings.growth) + 2000

    async def made(number: int, child: _Child | None) -> Attempt:
        if number <= len(recorded):
            return replayed(recorded[number - 1], child.revision if child else first)
        revision, error = (child.revision, None) if child else (first, None)
        if child is not None and revision is None:
            assert attacker is not None
            revision, error = await attacker.rewrite(seed, child.parent)
            error = error or _unusable(revision, seed, oracle, seen)
        if error is not None:
            return _failed(seed, number, child, revision, error)
        assert revision is not None
        return _attempt(seed, number, child, revision, await query(seed, revision, f"{seed.id}-q{number}"))

    async def ask(children: list[_Child | None]) -> list[Attempt]:
        start = len(outcome.attempts)
        attempts = await asyncio.gather(*(made(start + n + 1, child) for n, child in enumerate(children)))
        for attempt in attempts:
            seen.add(attempt.revision)
            outcome.attempts.append(attempt)
            on_query(attempt)
        return [a for a in attempts if a.error is None]

    root = (await ask([None]))[0]
    beam, explore, stale = [root], settings.explore, 0
    while len(outcome.attempts) < settings.budget and not any(a.clean for a in outcome.attempts) and stale < STALE_ROUNDS:
        children: list[_Child | None] = []
        children += _propose(beam, root, seed, rng, replace(settings, explore=explore), seen, limit, outcome, oracle)
        if attacker is not None and len(outcome.attempts) + len(children) < settings.budget:
            children.append(_Child(beam[0], [*beam[0].operators, ATTACKER], None))
        stale = 0 if children else stale + 1
        if children:
            best = score(beam[0])[0]
            beam = select(beam + await ask(children), settings.beam)
            # A round that reached no better verdict leaves a plateau: the next is all fresh chains.
            explore = settings.explore if score(beam[0])[0] > best else 1.0
    return outcome


def replayed(attempt: Attempt, revision: str | None) -> Attempt:
    """A recorded attempt, for the search asking for `revision` (None: the attacker's, whatever it was)."""
    if revision is not None and attempt.revision != revision:
        raise UserError(
            f"query {attempt.query} of seed {attempt.seed} in attempts.jsonl is not the revision the search asks for now",
            fix="choose a new --out (attempts.jsonl was edited, or written by another version)",
        )
    return attempt


def _unusable(revision: str | None, seed: Seed, oracle: Oracle | None, seen: set[str]) -> str | None:
    """Why an attacker's rewrite is not asked of the eval, or None."""
    if not revision:
        return "the attacker's rewrite is empty"
    if not (oracle(revision, seed) if oracle else keeps(revision, seed.span)):
        return "the attacker's rewrite breaks the oracle (the flagged span is not in it verbatim)"
    if revision in seen:
        return "the attacker's rewrite was asked before"
    return None


def _failed(seed: Seed, number: int, child: _Child | None, revision: str | None, error: str) -> Attempt:
    assert child is not None
    return Attempt(
        seed=seed.id,
        query=number,
        parent=child.parent.query,
        operators=child.operators,
        revision=revision or "",
        verdict="error",
        needs_review=False,
        error=error,
    )


def observed(attempt: Attempt) -> tuple:
    """What the attacker sees of an attempt: the eval's verdict, leaning, confidence and review flag."""
    return attempt.verdict, attempt.leaning, attempt.confidence, attempt.needs_review


def select(candidates: list[Attempt], size: int) -> list[Attempt]:
    """The next beam: the best candidates by `score`, one per thing the eval said (revisions the eval cannot tell apart
    are one state to the attacker: the one with the fewest operators, then the earliest, stands for them)."""
    best: dict[tuple, Attempt] = {}
    for attempt in sorted(candidates, key=score, reverse=True):
        best.setdefault(observed(attempt), attempt)
    return list(best.values())[:size]


def _propose(
    beam: list[Attempt],
    root: Attempt,
    seed: Seed,
    rng: random.Random,
    settings: SearchSettings,
    seen: set[str],
    limit: int,
    outcome: SeedOutcome,
    oracle: Oracle | None = None,
) -> list[_Child]:
    """The round's new revisions, none said before and no more than the budget has room for: `expand` for each beam
    member, each that member rewritten by one more operator, or (a share `explore` of them) a fresh chain of one to
    `chain` operators applied to the draft, so that the search also leaves a plateau where every step looks the same."""
    room = settings.budget - len(outcome.attempts)
    children: list[_Child] = []
    for parent in beam:
        made = 0
        for _ in range(settings.expand * TRIES):
            if made == settings.expand or len(children) == room:
                break
            fresh = rng.random() < settings.explore
            start = root if fresh else parent
            text, applied = start.revision, list[str]()
            for name in [rng.choice(settings.operators) for _ in range(rng.randint(1, settings.chain) if fresh else 1)]:
                changed = apply(name, text, seed, rng, oracle)
                if changed is not None:  # an operator with nothing to do in the chain is passed over, and not named
                    text, applied = changed, [*applied, name]
            if not applied or text in seen or len(text) > limit:
                outcome.discarded += 1
                continue
            seen.add(text)
            children.append(_Child(start, [*start.operators, *applied], text))
            made += 1
    return children


def _attempt(seed: Seed, number: int, child: _Child | None, revision: str, line: EvalLine) -> Attempt:
    return Attempt(
        seed=seed.id,
        query=number,
        parent=child.parent.query if child else None,
        operators=child.operators if child else [],
        revision=revision,
        verdict=line.verdict,
        leaning=line.leaning,
        confidence=None if line.confidence is None else round(float(line.confidence), 4),
        needs_review=line.needs_review,
        decided_by=line.decided_by,
        reasons=line.reasons,
    )
