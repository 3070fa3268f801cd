"""Fit the fast scorer (constitutional.evals.fast_scorer) to the teacher's labels by ridge regression, and write it.

Called by build_fast_scorer.py. Requests are split 80/20 with the seed to choose the ridge penalty and to print how
closely the student follows the teacher on requests it has not seen (agreement on the thresholds the signals use);
the shipped weights are then fitted on every example.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from constitutional.evals.fast_scorer import WIDTH, Rarity, design_row, features, stem
from constitutional.evals.signals import GENERIC_PMI, RESTATES_PMI
from constitutional.text import STOPWORDS, words

PENALTIES = (1.0, 3.0, 10.0, 30.0, 100.0)
VALIDATION = 0.2
FOLDS = 5


def rarity(texts: list[str]) -> Rarity:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({stem(w) for w in words(text) if w not in STOPWORDS})
    n = len(texts)
    return Rarity({w: math.log(n / c) for w, c in counts.items() if c >= 2}, math.log(n))


def design(rows: list[tuple[Any, float, float | None, int]], rare: Rarity) -> np.ndarray:
    matrix = np.zeros((len(rows), WIDTH), dtype=np.float64)
    for i, (ex, *_) in enumerate(rows):
        columns, values = design_row(*features(ex.request, ex.sentence, ex.draft, rare))
        np.add.at(matrix[i], columns, values)
    return matrix


def ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Weights minimising |xw − y|² + penalty·|w|², solved in the dual (fewer rows than columns)."""
    alpha = np.linalg.solve(x @ x.T + penalty * np.eye(len(x)), y)
    return x.T @ alpha


def agreement(predicted: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    return float(np.mean((predicted >= threshold) == (truth >= threshold)))


def choose(x: np.ndarray, y: np.ndarray, held: np.ndarray, threshold: float, name: str) -> float:
    """The penalty with the best agreement on the held-out requests (printed with the error)."""
    best = (-1.0, PENALTIES[0])
    for penalty in PENALTIES:
        w = ridge(x[~held], y[~held], penalty)
        predicted = x[held] @ w
        score = agreement(predicted, y[held], threshold)
        mae = float(np.mean(np.abs(predicted - y[held])))
        print(f"{name} penalty {penalty}: agreement at {threshold} {score:.3f}, mean abs error {mae:.3f}")
        best = max(best, (score, penalty))
    return best[1]


def offset(x: np.ndarray, y: np.ndarray, groups: np.ndarray, penalty: float, threshold: float) -> float:
    """What to add to the student's predictions so that it calls as large a share of sentences under `threshold` as
    the teacher does. Ridge shrinks predictions toward the mean, so without this the student calls fewer sentences
    generic (or restating) than the teacher, and the eval's rates drift. Measured on cross-fitted predictions (five
    folds by request), so the shift is not fitted to examples the weights saw."""
    predicted = np.zeros(len(y))
    for fold in range(FOLDS):
        out = groups % FOLDS == fold
        predicted[out] = x[out] @ ridge(x[~out], y[~out], penalty)
    return threshold - float(np.quantile(predicted, float(np.mean(y < threshold))))


def tokens_per(rows: list[tuple[Any, float, float | None, int]]) -> np.ndarray:
    """Least squares: tokens ≈ a·words + b·characters + c."""
    x = np.array([[len(words(ex.sentence)), len(ex.sentence), 1.0] for ex, *_ in rows])
    y = np.array([n for *_, n in rows], dtype=np.float64)
    return np.linalg.lstsq(x, y, rcond=None)[0]


def fit_and_write(
    rows: list[tuple[Any, float, float | None, int]],
    recipe: dict,
    weights: Path,
    manifest: Path,
    text_hash: Callable[[str], str],
) -> None:
    rare = rarity(sorted({ex.request for ex, *_ in rows} | {ex.sentence for ex, *_ in rows}))
    x = design(rows, rare)
    pmi = np.array([p for _, p, _, _ in rows])
    drafted = np.array([d is not None for _, _, d, _ in rows])
    restated = np.array([d if d is not None else 0.0 for _, _, d, _ in rows])
    requests = sorted({ex.request for ex, *_ in rows})
    held_requests = set(random.Random(recipe["seed"]).sample(requests, int(len(requests) * VALIDATION)))
    held = np.array([ex.request in held_requests for ex, *_ in rows])
    pmi_penalty = choose(x, pmi, held, GENERIC_PMI, "pmi")
    draft_penalty = choose(x[drafted], restated[drafted], held[drafted], RESTATES_PMI, "pmi_draft")
    number = {request: i for i, request in enumerate(requests)}
    groups = np.array([number[ex.request] for ex, *_ in rows])
    pmi_offset = offset(x, pmi, groups, pmi_penalty, GENERIC_PMI)
    draft_offset = offset(x[drafted], restated[drafted], groups[drafted], draft_penalty, RESTATES_PMI)
    print(f"offsets: pmi {pmi_offset:+.3f}, pmi_draft {draft_offset:+.3f}")
    vocab = sorted(rare.idf)
    weights.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        weights,
        pmi=ridge(x, pmi, pmi_penalty),
        pmi_draft=ridge(x[drafted], restated[drafted], draft_penalty),
        offsets=np.array([pmi_offset, draft_offset]),
        tokens_per=tokens_per(rows),
        vocab=np.array(vocab),
        idf=np.array([rare.idf[w] for w in vocab]),
        unseen=np.array(rare.unseen),
    )
    texts = sorted({ex.request for ex, *_ in rows} | {ex.sentence for ex, *_ in rows} | {ex.draft for ex, *_ in rows if ex.draft})
    manifest.write_text(
        json.dumps(
            {
                **recipe,
                "examples": len(rows),
                "by_source": dict(Counter(ex.source for ex, *_ in rows)),
                "with_draft": int(drafted.sum()),
                "penalties": {"pmi": pmi_penalty, "pmi_draft": draft_penalty},
                "offsets": {"pmi": round(pmi_offset, 4), "pmi_draft": round(draft_offset, 4)},
                "text_sha256_16": sorted({text_hash(t) for t in texts}),
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {weights} ({weights.stat().st_size // 1024} KiB) and {manifest}")
