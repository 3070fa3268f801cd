"""`--scorer fast+local`: the fast scorer first, the model scorer only where the fast one is unsure.

The signals turn each sentence's PMI into decisions at a few thresholds: generic below GENERIC_PMI, and restating
the draft at RESTATES_PMI of `pmi_draft` (signals.py). The fast scorer predicts both in microseconds, but only
roughly; where its prediction is far from every threshold the model would almost never land on the other side, and
where it is near one the model decides. So the model reads only the sentences whose fast `pmi` is within PMI_MARGIN
of GENERIC_PMI, or (for a sentence that is not clearly generic) whose fast `pmi_draft` is within DRAFT_MARGIN of
RESTATES_PMI. Each scored sentence says which scorer scored it (`SentenceScore.by`), and the eval line counts the
sentences the model read.

The margins are provisional until benchmarks/scorer_margin.py has measured them on the development sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constitutional.evals.signals import GENERIC_PMI, RESTATES_PMI

if TYPE_CHECKING:
    from constitutional.evals.fast_scorer import FastScorer
    from constitutional.evals.scorer import ModelScorer, SentenceScore

PMI_MARGIN = 0.5  # nats/token either side of GENERIC_PMI where the model decides
DRAFT_MARGIN = 0.5  # nats/token either side of RESTATES_PMI where the model decides


def unsure(score: SentenceScore, pmi_margin: float = PMI_MARGIN, draft_margin: float = DRAFT_MARGIN) -> bool:
    """Whether the fast score is near a threshold the signals use, so the model should read the sentence."""
    if abs(score.pmi - GENERIC_PMI) < pmi_margin:
        return True
    not_generic = score.pmi >= GENERIC_PMI
    return not_generic and score.pmi_draft is not None and abs(score.pmi_draft - RESTATES_PMI) < draft_margin


class HybridScorer:
    """The Scorer of `fast+local`: FastScorer's scores, with ModelScorer's for the sentences it is unsure of."""

    def __init__(self, fast: FastScorer, model: ModelScorer):
        self.fast = fast
        self.model = model
        self.spec = f"fast+{model.spec}"

    def close(self) -> None:
        self.model.close()

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        """Each sentence's score, by the fast scorer or (where it is unsure) the model; whether the model had to shorten
        the request or a sentence it read."""
        from dataclasses import replace

        quick, _ = self.fast.score(request, sentences, draft)
        asked = [i for i, score in enumerate(quick) if unsure(score)]
        read, cut = self.model.score(request, [sentences[i] for i in asked], draft) if asked else ([], False)
        scores = [replace(score, by=self.fast.spec) for score in quick]
        for i, score in zip(asked, read):
            scores[i] = replace(score, by=self.model.spec)
        return scores, cut
