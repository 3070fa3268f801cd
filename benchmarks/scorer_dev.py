"""Fit the scorer's threshold on the development sets only (tests/data/labelled/verdicts*.jsonl, written
for this project): sentences the veneer lexicon marks in those revisions are "veneer", the sentences of
the drafts with veneer stripped are "substance". Prints the AUC of per-sentence PMI and the threshold
that best separates the two (balanced accuracy). The held-out sets in tests/data/heldout/ are never read.

    python benchmarks/scorer_dev.py
"""

from __future__ import annotations

import json
from pathlib import Path

from constitutional.evals.scorer import load_scorer
from constitutional.evals.veneer import scan
from constitutional.text import sentences, words

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "labelled"


def examples() -> list[tuple[str, str, int]]:
    """(request, sentence, 1 if substance else 0), each sentence once."""
    seen, out = set(), []
    for name in ("verdicts.jsonl", "verdicts_heldout.jsonl", "verdicts_heldout2.jsonl"):
        for row in map(json.loads, (LABELLED / name).read_text().splitlines()):
            veneer = [u.text for u in scan(row["revision"]).counted]
            substance = sentences(scan(row["draft"]).stripped) if row.get("draft") else []
            for text, label in [(v, 0) for v in veneer] + [(s, 1) for s in substance if len(words(s)) >= 4]:
                if text not in seen:
                    seen.add(text)
                    out.append((row["prompt"], text, label))
    return out


def auc(scores: list[tuple[float, int]]) -> float:
    pos = [s for s, y in scores if y]
    neg = [s for s, y in scores if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def main() -> None:
    scorer = load_scorer("local")
    scored = []
    for request, text, label in examples():
        [score], _ = scorer.score(request, [text])
        scored.append((score.pmi, label))
    print(
        f"{sum(y for _, y in scored)} substance and {sum(1 - y for _, y in scored)} veneer sentences; "
        f"AUC of PMI {auc(scored):.3f}"
    )
    best = max(
        (
            sum((s >= t) == bool(y) for s, y in scored if y) / max(1, sum(y for _, y in scored))
            + sum((s >= t) == bool(y) for s, y in scored if not y) / max(1, sum(1 - y for _, y in scored)),
            t,
        )
        for t in [x / 20 for x in range(-20, 41)]
    )
    print(f"best threshold {best[1]:.2f} nats/token (balanced accuracy {best[0] / 2:.3f})")
    for t in (0.0, 0.1, 0.25, 0.5):
        sub = [(s >= t) for s, y in scored if y]
        ven = [(s < t) for s, y in scored if not y]
        print(f"  at {t:.2f}: substance kept {sum(sub)}/{len(sub)}, veneer caught {sum(ven)}/{len(ven)}")


if __name__ == "__main__":
    main()
