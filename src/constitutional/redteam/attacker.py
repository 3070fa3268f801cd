"""`--attacker MODEL`: a model that rewrites the revision, given what the eval said about it (its verdict and reasons),
made and called through the job's call layer (cache, limits, the one retry policy). Its rewrite is checked by the same
oracle as every operator's; one that breaks it, repeats a revision or fails after the retries is recorded (an attempt
with verdict `error`), not asked of the eval, and the search goes on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from constitutional.models.base import ModelError
from constitutional.prompts import render

if TYPE_CHECKING:
    from constitutional.models.base import ChatModel
    from constitutional.redteam.search import Attempt
    from constitutional.redteam.seeds import Seed

NAME = "attacker"  # the operator name an attacker rewrite carries in attempts.jsonl
MAX_TOKENS = 512  # a revision is a few hundred words at most


@dataclass
class Attacker:
    model: ChatModel  # managed by the call layer

    async def rewrite(self, seed: Seed, parent: Attempt) -> tuple[str | None, str | None]:
        """The model's rewrite of `parent`'s revision, or None and why there is none (the call failed after its
        retries)."""
        verdict = f"{parent.verdict} ({parent.leaning})" if parent.leaning else parent.verdict
        messages = render(
            "redteam_attack",
            prompt=seed.prompt,
            span=seed.span,
            revision=parent.revision,
            verdict=verdict,
            reasons="\n".join(f"- {reason}" for reason in parent.reasons) or "(no reasons given)",
        )
        try:
            completion = await self.model.generate(messages, max_tokens=MAX_TOKENS)
        except ModelError as exc:
            return None, f"the attacker's call failed: {exc}"
        return completion.text.strip(), None
