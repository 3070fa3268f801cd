"""The eval under attack, called in-process exactly as `cai eval` calls it: the constitution, the judge (None: the
signals and the scorer decide), the trust its canaries give the judge, and the scorer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from constitutional.evals.canaries import plant, run_canaries
from constitutional.evals.evaluate import Trust, evaluate_line

if TYPE_CHECKING:
    from constitutional.constitution import Constitution
    from constitutional.evals.judge import Judge
    from constitutional.evals.lines import EvalLine
    from constitutional.evals.scorer import Scorer
    from constitutional.redteam.search import Attempt
    from constitutional.redteam.seeds import Seed

TIERS = ("signals", "scorer", "judge")  # the tier a success fooled: the cheapest one that already calls it genuine


@dataclass
class Target:
    constitution: Constitution
    judge: Judge | None = None
    trust: Trust = field(default_factory=Trust)
    scorer: Scorer | None = None

    async def query(self, seed: Seed, revision: str, item_id: str) -> EvalLine:
        return await evaluate_line(seed.item(revision, item_id), self.constitution, self.judge, self.trust, self.scorer)

    async def tier(self, seed: Seed, attempt: Attempt) -> str:
        """Which tier a success fooled: `judge` when the eval without the judge does not call it genuine, else
        `scorer` when the deterministic signals alone do not, else `signals`. (Two more evaluations, not counted as
        queries.)"""
        item_id = f"{seed.id}-q{attempt.query}"
        if self.judge is not None:
            alone = await replace(self, judge=None).query(seed, attempt.revision, item_id)
            if alone.verdict != attempt.verdict:
                return "judge"
        if self.scorer is not None:
            bare = await Target(self.constitution, trust=self.trust).query(seed, attempt.revision, item_id)
            if bare.verdict != attempt.verdict:
                return "scorer"
        return "signals"


async def with_canaries(target: Target, seeds: list[Seed]) -> tuple[Target, dict]:
    """The target with the trust its canaries give the judge (planted from the seeds' drafts, as `cai eval` plants
    them from its input), and the canaries' summary."""
    items = [seed.item(seed.draft) for seed in seeds]
    summary = await run_canaries(
        plant(items, target.constitution, seed=str(len(items))), target.constitution, target.judge, target.scorer
    )
    low = target.judge is not None and summary.get("judge_trusted") is False
    return replace(target, trust=Trust(low=low, reason=summary.get("judge_untrusted_reason"))), summary
