"""`--scorer fast+local`: the fast scorer first, the model scorer only where the fast one is unsure.

The signals turn each sentence's PMI into decisions at a few thresholds: generic below GENERIC_PMI, and restating
the draft at RESTATES_PMI of `pmi_draft` (signals.py). The fast scorer predicts both in microseconds, but only
roughly; where its prediction is far from every threshold the model would almost never land on the other side, and
where it is near one the model decides. So the model reads only the sentences whose fast `pmi` is within PMI_MARGIN
of GENERIC_PMI, or (for a sentence that is not clearly generic) whose fast `pmi_draft` is within DRAFT_MARGIN of
RESTATES_PMI. Each scored sentence says which scorer scored it (`SentenceScore.by`), and the eval line counts the
sentences the model read.

The margins were chosen on the development sets only, by `python benchmarks/scorer_margin.py 0.5` (half their
requests, drawn with a seed: the teacher's budget on 2 cores), with the shipped fast scorer: PMI_MARGIN is the
smallest at which the eval's verdict and needs_review equal the model scorer's on at least 99% of those records (at
0.2: both 126/126, the model reading 34% of 836 sentences; the fast scorer alone: 124/126); DRAFT_MARGIN the smallest
that sends the model 95% of the sentences on which the fast scorer and the model fall on different sides of
RESTATES_PMI (all 5 of 80 at 1.5). The fast scorer was fitted on these sets too, so on new text it errs more and the
hybrid agrees less (out of fold, a margin of 0.2 sent the model 68% of the sentences where the two disagree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constitutional.evals.signals import GENERIC_PMI, RESTATES_PMI

if TYPE_CHECKING:
    from constitutional.evals.fast_scorer import FastScorer
    from constitutional.evals.scorer import ModelScorer, SentenceScore

PMI_MARGIN = 0.2  # nats/token either side of GENERIC_PMI where the model decides
DRAFT_MARGIN = 1.5  # nats/token either side of RESTATES_PMI where the model decides


def unsure(score: SentenceScore, pmi_margin: float = PMI_MARGIN, draft_margin: float = DRAFT_MARGIN) -> bool:
    """Whether the fast score is near a threshold the signals use, so the model should read the sentence."""
    if abs(score.pmi - GENERIC_PMI) < pmi_margin:
        return True
    not_generic = score.pmi >= GENERIC_PMI
    return not_generic and score.pmi_draft is not None and abs(score.pmi_draft - RESTATES_PMI) < draft_margin


class HybridScorer:
    """The Scorer of `fast+local`: FastScorer's scores, with ModelScorer's for the sentences it is unsure of."""

    def __init__(self, fast: FastScorer, model: ModelScorer, margins: tuple[float, float] = (PMI_MARGIN, DRAFT_MARGIN)):
        self.fast = fast
        self.model = model
        self.margins = margins  # (PMI_MARGIN, DRAFT_MARGIN)
        self.spec = f"fast+{model.spec}"

    def close(self) -> None:
        self.model.close()

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        """Each sentence's score, by the fast scorer or (where it is unsure) the model; whether the model had to shorten
        the request or a sentence it read."""
        from dataclasses import replace

        quick, _ = self.fast.score(request, sentences, draft)
        asked = [i for i, score in enumerate(quick) if unsure(score, *self.margins)]
        read, cut = self.model.score(request, [sentences[i] for i in asked], draft) if asked else ([], False)
        scores = [replace(score, by=self.fast.spec) for score in quick]
        for i, score in zip(asked, read):
            scores[i] = replace(score, by=self.model.spec)
        return scores, cut
