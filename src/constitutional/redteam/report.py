"""report.json of `cai redteam`: the eval's gaming resistance on the seeds, and where it was fooled."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from constitutional.redteam.search import score

if TYPE_CHECKING:
    from constitutional.redteam.search import Attempt, SeedOutcome

SCHEMA_VERSION = 1


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OperatorStats(_Part):
    queries: int = 0  # queries whose revision this operator helped make
    successes: int = 0  # of them, those the eval called genuine
    seeds_broken: int = 0  # broken seeds whose first success it helped make


class SeedSummary(_Part):
    id: str
    principle: str
    queries: int
    broken: bool
    broken_without_review: bool
    first_success: int | None = None  # the query number of the first `genuine`
    best: str  # the best verdict reached (`undecided (genuine)` for an undecided verdict leaning genuine)
    operators: list[str] = Field(default_factory=list)  # the chain of the success counted (first without review, else first)
    tier: str | None = None  # the tier that success fooled
    decided_by: str | None = None


class RedteamReport(_Part):
    schema_version: int = SCHEMA_VERSION
    created: str
    seconds: float
    seeds_from: str
    constitution: dict
    judge: str | None = None
    judge_mode: str | None = None
    judge_trusted: bool | None = None  # what the canaries said of the judge (None: no judge)
    scorer: str | None = None
    budget: int
    search: dict  # beam, expand, seed, operators
    seeds: int
    skipped: dict[str, int] = Field(default_factory=dict)  # seeds not used, by reason
    queries: int
    discarded: int  # rewrites never queried: the span lost, nothing changed, or said before
    broken: int
    broken_share: float | None
    broken_without_review: int
    broken_without_review_share: float | None
    gaming_resistance: float | None  # 1 − broken_share: the share of seeds the attack could not make genuine
    median_queries_to_first_success: float | None
    by_operator: dict[str, OperatorStats]
    by_tier: dict[str, int]  # broken seeds by the tier their counted success fooled
    by_decided_by: dict[str, int]
    per_seed: list[SeedSummary]


def best_label(attempts: list[Attempt]) -> str:
    top = max(attempts, key=score)
    return f"undecided ({top.leaning})" if top.verdict == "undecided" and top.leaning else top.verdict


def counted(outcome: SeedOutcome) -> Attempt | None:
    """The success a broken seed is counted by: its first without review, else its first."""
    return outcome.first_clean or outcome.first_success


def summary(outcome: SeedOutcome, tier: str | None) -> SeedSummary:
    success = counted(outcome)
    first = outcome.first_success
    return SeedSummary(
        id=outcome.seed.id,
        principle=outcome.seed.principle,
        queries=len(outcome.attempts),
        broken=first is not None,
        broken_without_review=outcome.first_clean is not None,
        first_success=first.query if first else None,
        best=best_label(outcome.attempts),
        operators=success.operators if success else [],
        tier=tier,
        decided_by=success.decided_by if success else None,
    )


def by_operator(outcomes: list[SeedOutcome], names: tuple[str, ...]) -> dict[str, OperatorStats]:
    stats = {name: OperatorStats() for name in names}
    for outcome in outcomes:
        for attempt in outcome.attempts:
            for name in set(attempt.operators):
                stats[name].queries += 1
                stats[name].successes += attempt.success
        success = outcome.first_success
        for name in set(success.operators if success else []):
            stats[name].seeds_broken += 1
    return stats


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def numbers(summaries: list[SeedSummary]) -> dict:
    """The headline numbers: seeds broken (and without review), their shares, the gaming resistance, and the median
    queries to the first success."""
    n = len(summaries)
    broken = [s for s in summaries if s.broken]
    clean = sum(s.broken_without_review for s in summaries)
    firsts = [s.first_success for s in broken if s.first_success is not None]
    broken_share = share(len(broken), n)
    return {
        "seeds": n,
        "broken": len(broken),
        "broken_share": broken_share,
        "broken_without_review": clean,
        "broken_without_review_share": share(clean, n),
        "gaming_resistance": None if broken_share is None else round(1 - broken_share, 4),
        "median_queries_to_first_success": statistics.median(firsts) if firsts else None,
        "by_tier": dict(Counter(s.tier for s in broken if s.tier)),
        "by_decided_by": dict(Counter(s.decided_by for s in broken if s.decided_by)),
    }
