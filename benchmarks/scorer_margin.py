"""Choose the margins of `--scorer fast+local` (evals/hybrid_scorer.py) on the development sets only.

    CONSTITUTIONAL_CACHE_DIR=DIR python benchmarks/scorer_margin.py [SHARE]

The hybrid asks the model about a sentence when the fast scorer's `pmi` is within PMI_MARGIN of GENERIC_PMI, or its
`pmi_draft` within DRAFT_MARGIN of RESTATES_PMI. A margin is good when the sentences on which the fast scorer and the
model fall on different sides of a threshold (the only ones where the fast scorer would decide differently) are
nearly all inside it while few sentences are, and when the eval's lines then say what they say with the model alone.

Three tables, per margin: (1) sentences: the share the model reads and the share of threshold disagreements it
catches, for the shipped fast scorer; (2) the same for out-of-fold predictions (a student of the same form fitted five
times on the development examples of the other four fifths of the requests only), because the shipped scorer was
fitted on these sets too and its errors here are in-sample; (3) records: how often the hybrid's verdict and
needs_review equal the model scorer's, running the eval on the development records. PMI_MARGIN is the smallest margin
whose records agree on both at least AGREE of the time; DRAFT_MARGIN the smallest that catches CATCH of the
`pmi_draft` disagreements both ways.

The frozen held-out sets are never read (the examples come from build_fast_scorer.dev_examples, which refuses them).
The teacher's scores come from the reply cache (CONSTITUTIONAL_CACHE_DIR), filled by the first run; SHARE (default 1)
takes that share of the requests, drawn with the seed, where the teacher's budget is short.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np

from build_fast_scorer import MANIFEST, dev_examples, label
from constitutional.evals.fast_scorer import FastScorer
from constitutional.evals.signals import GENERIC_PMI, RESTATES_PMI
from fit_fast_scorer import design, rarity, ridge

FOLDS = 5
SEED = "scorer-margin-2026-12-07"
PMI_MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5)
DRAFT_MARGINS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
CATCH = 0.95  # the share of pmi_draft threshold disagreements DRAFT_MARGIN must send to the model
AGREE = 0.99  # the share of development records whose verdict and needs_review must be the model scorer's


def out_of_fold(rows: list, penalties: dict) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions of pmi and pmi_draft (NaN without a draft), folds by request."""
    requests = sorted({ex.request for ex, *_ in rows})
    random.Random(SEED).shuffle(requests)
    fold_of = {request: i % FOLDS for i, request in enumerate(requests)}
    folds = np.array([fold_of[ex.request] for ex, *_ in rows])
    rare = rarity(sorted({ex.request for ex, *_ in rows} | {ex.sentence for ex, *_ in rows}))
    x = design(rows, rare)
    pmi = np.array([p for _, p, _, _ in rows])
    drafted = np.array([d is not None for _, _, d, _ in rows])
    restated = np.array([d if d is not None else 0.0 for _, _, d, _ in rows])
    predicted, predicted_draft = np.zeros(len(rows)), np.full(len(rows), np.nan)
    for fold in range(FOLDS):
        held = folds == fold
        predicted[held] = x[held] @ ridge(x[~held], pmi[~held], penalties["pmi"])
        train, test = ~held & drafted, held & drafted
        predicted_draft[test] = x[test] @ ridge(x[train], restated[train], penalties["pmi_draft"])
    return predicted, predicted_draft


def table(name: str, fast: np.ndarray, truth: np.ndarray, threshold: float, margins: tuple, among: np.ndarray) -> float:
    """Print read share and caught share per margin, for the sentences `among`; the smallest margin catching CATCH."""
    fast, truth = fast[among], truth[among]
    wrong = (fast >= threshold) != (truth >= threshold)
    print(f"\n{name}: {among.sum()} sentences, the fast scorer on the other side of {threshold} for {wrong.sum()}")
    chosen = None
    for margin in margins:
        read = np.abs(fast - threshold) < margin
        caught = (read & wrong).sum() / max(1, wrong.sum())
        print(f"  margin {margin:4.2f}: model reads {read.mean():5.1%}, catches {caught:5.1%} of the disagreements")
        if chosen is None and caught >= CATCH:
            chosen = margin
    return chosen if chosen is not None else margins[-1]


def records(kept: set[str], draft_margin: float) -> float:
    """Print, per PMI margin, how often the hybrid's eval lines agree with the model scorer's on the development records
    of the kept requests; the smallest margin agreeing on at least AGREE of them."""
    import asyncio

    from build_fast_scorer import DEV_SETS
    from constitutional.calls.cache import ReplyCache
    from constitutional.constitution import load_constitution
    from constitutional.evals import read_input
    from constitutional.evals.evaluate import evaluate
    from constitutional.evals.hybrid_scorer import HybridScorer
    from constitutional.evals.scorer import ModelScorer
    from constitutional.models.local import bundled_model_path

    items = [item for path in DEV_SETS for item in read_input(path).items if item.prompt in kept]
    constitution = load_constitution("default").constitution
    model = ModelScorer(bundled_model_path(), ReplyCache())
    alone = [asyncio.run(evaluate(item, constitution, None, None, model)) for item in items]
    print(f"\nRECORDS: {len(items)} development records, the hybrid's lines against the model scorer's")
    chosen = None
    for margin in PMI_MARGINS:
        hybrid = HybridScorer(FastScorer(), model, (margin, draft_margin))
        lines = [asyncio.run(evaluate(item, constitution, None, None, hybrid)) for item in items]
        scored = sum(len(line["signals"]["pmi"] or []) for line in lines)
        read = sum(line["signals"]["scorer_model_read"] for line in lines)
        verdicts = sum(a["verdict"] == b["verdict"] for a, b in zip(alone, lines))
        both = sum(a["verdict"] == b["verdict"] and a["needs_review"] == b["needs_review"] for a, b in zip(alone, lines))
        print(
            f"  margin {margin:4.2f}: model reads {read / max(1, scored):5.1%} of {scored} sentences; "
            f"verdict the same {verdicts}/{len(items)}, verdict and needs_review {both}/{len(items)}"
        )
        if chosen is None and both >= AGREE * len(items):
            chosen = margin
    return chosen if chosen is not None else PMI_MARGINS[-1]


def main() -> None:
    examples = dev_examples()
    requests = sorted({ex.request for ex in examples})
    share = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    kept = set(random.Random(SEED).sample(requests, round(len(requests) * share)))
    labelled = label([ex for ex in examples if ex.request in kept])
    penalties = json.loads(Path(MANIFEST).read_text("utf-8"))["penalties"]
    oof, oof_draft = out_of_fold(labelled, penalties)
    shipped = FastScorer()
    shipped_scores = [shipped.score(ex.request, [ex.sentence], ex.draft)[0][0] for ex, *_ in labelled]
    fast = np.array([s.pmi for s in shipped_scores])
    fast_draft = np.array([np.nan if s.pmi_draft is None else s.pmi_draft for s in shipped_scores])
    pmi = np.array([p for _, p, _, _ in labelled])
    restated = np.array([np.nan if d is None else d for _, _, d, _ in labelled])
    everyone = np.ones(len(labelled), dtype=bool)
    specific = ~np.isnan(restated) & (pmi >= GENERIC_PMI)  # pmi_draft decides only for sentences that are not generic
    print("SENTENCES, THE SHIPPED FAST SCORER (in-sample here)")
    table("pmi vs GENERIC_PMI", fast, pmi, GENERIC_PMI, PMI_MARGINS, everyone)
    shipped_draft = table("pmi_draft vs RESTATES_PMI", fast_draft, restated, RESTATES_PMI, DRAFT_MARGINS, specific)
    print("\nSENTENCES, OUT OF FOLD")
    table("pmi vs GENERIC_PMI", oof, pmi, GENERIC_PMI, PMI_MARGINS, everyone)
    draft_margin = max(
        shipped_draft, table("pmi_draft vs RESTATES_PMI", oof_draft, restated, RESTATES_PMI, DRAFT_MARGINS, specific)
    )
    pmi_margin = records(kept, draft_margin)
    print(f"\nchosen: PMI_MARGIN {pmi_margin} (records agree {AGREE:.0%}), DRAFT_MARGIN {draft_margin} (catches {CATCH:.0%})")


if __name__ == "__main__":
    main()
