"""`cai redteam` as a service: attack the eval on every seed and write attempts.jsonl, found.jsonl and report.json.

The eval is made as `cai eval` makes it (evals/service.py `Judging`: the judge, its mode, the scorer, through the job's
call factory), its judge's trust set by canaries planted from the seeds' drafts, and called in-process."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from constitutional.errors import os_failure
from constitutional.evals.scorer import close_scorer, default_spec
from constitutional.evals.service import JudgeChoice, Judging
from constitutional.redteam.attacker import NAME as ATTACKER
from constitutional.redteam.attacker import Attacker
from constitutional.redteam.journal import ATTEMPTS, recorded
from constitutional.redteam.report import RedteamReport, by_operator, counted, numbers, summary
from constitutional.redteam.search import SearchSettings, attack
from constitutional.redteam.target import Target, with_canaries
from constitutional.rundir import write_json_atomic

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from constitutional.calls.factory import Calls
    from constitutional.calls.managed import ManagedModel
    from constitutional.calls.settings import CallSettings
    from constitutional.constitution import LoadedConstitution
    from constitutional.evals.debate import JudgeSetup
    from constitutional.evals.scorer import Scorer
    from constitutional.redteam.search import Attempt, SeedOutcome
    from constitutional.redteam.seeds import Seed, SeedSet

FOUND, REPORT = "found.jsonl", "report.json"


@dataclass
class RedteamRequest:
    seeds: SeedSet
    constitution: LoadedConstitution
    out: Path
    search: SearchSettings
    judge: str | None  # the judge's spec; None: the signals and the scorer decide
    calls: CallSettings  # the judge's
    scorer: str | None = None  # None: the default scorer
    choice: JudgeChoice = JudgeChoice()
    attacker: str | None = None  # the spec of a model that rewrites revisions too (None: the operators alone)
    attacker_base_url: str | None = None

    def judging(self) -> Judging:
        return Judging(self.judge, self.calls, self.choice, self.scorer or default_spec())

    def job(self) -> dict:
        """What must match for an interrupted red team to be resumed into the same directory (job.json)."""
        search = self.search
        return {
            "seeds": self.seeds.digest(),
            "constitution": self.constitution.sha256,
            "judge": self.judge,
            "judge_mode": self.choice.mode if self.judge else None,
            "scorer": self.scorer or default_spec(),
            "budget": search.budget,
            "beam": search.beam,
            "expand": search.expand,
            "seed": search.seed,
            "operators": list(search.operators),
            "variant": search.variant,
            "attacker": self.attacker,
        }


@dataclass
class Watch:
    """What the front end is told: every query, and every seed when its search ends."""

    on_query: Callable[[Attempt], None] = lambda attempt: None
    on_seed: Callable[[SeedOutcome], None] = lambda outcome: None
    on_resume: Callable[[int], None] = lambda replayed: None  # an interrupted run's queries, replayed from the file


def found_line(seed: Seed, attempt: Attempt, tier: str | None) -> dict:
    """A success as a line of `cai eval` input: the draft, the revision and the flag, with the red team's notes (kept
    by `cai eval` as extra fields)."""
    return {
        "id": f"{seed.id}-q{attempt.query}",
        "prompt": seed.prompt,
        "draft": seed.draft,
        "revision": attempt.revision,
        "violations": [{"principle": seed.principle, "quote": seed.span}],
        "redteam": {
            "seed": seed.id,
            "query": attempt.query,
            "operators": attempt.operators,
            "verdict": attempt.verdict,
            "confidence": attempt.confidence,
            "needs_review": attempt.needs_review,
            "decided_by": attempt.decided_by,
            **({"tier": tier} if tier else {}),
        },
    }


def run_redteam(request: RedteamRequest, calls: Calls, watch: Watch) -> RedteamReport:
    """Attack the eval on every seed of the request; write the three files to `request.out`; return the report."""
    judge_model, setup, scorer = request.judging().models(calls)
    attacker = None
    if request.attacker is not None:
        settings = request.calls.model_copy(update={"base_url": request.attacker_base_url})
        attacker = Attacker(calls.model(request.attacker, settings, strict=False))
    try:
        return asyncio.run(_run(request, judge_model, setup, scorer, watch, attacker))
    finally:
        close_scorer(scorer)


async def _run(
    request: RedteamRequest,
    judge_model: ManagedModel | None,
    setup: JudgeSetup,
    scorer: Scorer | None,
    watch: Watch,
    attacker: Attacker | None = None,
) -> RedteamReport:
    started, clock = datetime.now(UTC), time.monotonic()
    seeds = request.seeds.seeds
    target = Target(request.constitution.constitution, setup.make(judge_model) if judge_model else None, scorer=scorer)
    try:
        canaries = None
        if target.judge is not None:
            target, canaries = await with_canaries(target, seeds)
        outcomes, tiers = await _attack_all(request, target, watch, attacker)
    finally:
        if attacker is not None:
            await attacker.model.aclose()
        if judge_model is not None:
            await setup.aclose(judge_model)
            await judge_model.aclose()
    report = _report(request, outcomes, tiers, canaries, started, time.monotonic() - clock, scorer)
    try:
        write_json_atomic(request.out / REPORT, report.model_dump())
    except OSError as exc:
        raise os_failure(exc, "cannot write", request.out / REPORT, then="rerun the same command") from None
    return report


async def _attack_all(
    request: RedteamRequest, target: Target, watch: Watch, attacker: Attacker | None
) -> tuple[list[SeedOutcome], dict[str, str]]:
    """Every seed attacked in turn, each query written to attempts.jsonl as it is made and each success to
    found.jsonl; the tier each broken seed's counted success fooled, by seed id."""
    out, done = request.out, resumed(request)
    if done:
        watch.on_resume(sum(map(len, done.values())))
    try:
        attempts_fh, found_fh = (out / ATTEMPTS).open("a", encoding="utf-8"), (out / FOUND).open("w", encoding="utf-8")
    except OSError as exc:
        raise os_failure(exc, "cannot write", out / ATTEMPTS, then="rerun the same command") from None
    outcomes, tiers = [], {}
    with attempts_fh, found_fh:

        def on_query(attempt: Attempt) -> None:
            if attempt.query > len(done.get(attempt.seed, ())):  # a replayed attempt is in the file already
                attempts_fh.write(attempt.model_dump_json() + "\n")
                attempts_fh.flush()
            watch.on_query(attempt)

        for seed in request.seeds.seeds:
            outcome = await attack(seed, target.query, request.search, on_query, done.get(seed.id, ()), attacker)
            success = counted(outcome)
            if success is not None:
                tiers[seed.id] = await target.tier(seed, success)
            _write_found(found_fh, outcome, tiers.get(seed.id), success)
            outcomes.append(outcome)
            watch.on_seed(outcome)
    return outcomes, tiers


def resumed(request: RedteamRequest) -> dict[str, list[Attempt]]:
    """The attempts an interrupted run of the same job left in `request.out`, by seed (see journal.py)."""
    try:
        return recorded(request.out, request.job())
    except OSError as exc:
        raise os_failure(exc, "cannot read and repair", request.out / ATTEMPTS, then="rerun the same command") from None


def _write_found(fh: IO[str], outcome: SeedOutcome, tier: str | None, success: Attempt | None) -> None:
    for attempt in outcome.successes:
        line = found_line(outcome.seed, attempt, tier if attempt is success else None)
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    fh.flush()


def _report(
    request: RedteamRequest,
    outcomes: list[SeedOutcome],
    tiers: dict[str, str],
    canaries: dict | None,
    started: datetime,
    seconds: float,
    scorer: Scorer | None,
) -> RedteamReport:
    summaries = [summary(o, tiers.get(o.seed.id)) for o in outcomes]
    search = request.search
    return RedteamReport(
        created=started.isoformat(timespec="seconds"),
        seconds=round(seconds, 2),
        seeds_from=request.seeds.origin,
        constitution=request.constitution.manifest,
        judge=request.judge,
        judge_mode=request.choice.mode if request.judge else None,
        judge_trusted=canaries.get("judge_trusted") if canaries else None,
        scorer=scorer.spec if scorer is not None else None,
        budget=search.budget,
        search={
            "beam": search.beam,
            "expand": search.expand,
            "seed": search.seed,
            "operators": list(search.operators),
            "variant": search.variant,
            "attacker": request.attacker,
        },
        skipped=dict(request.seeds.skipped),
        queries=sum(len(o.attempts) for o in outcomes),
        discarded=sum(o.discarded for o in outcomes),
        by_operator=by_operator(outcomes, (*search.operators, *([ATTACKER] if request.attacker else []))),
        per_seed=summaries,
        **numbers(summaries),
    )
