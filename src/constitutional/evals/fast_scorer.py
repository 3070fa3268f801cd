"""The fast scorer: the local model scorer's PMI, predicted from words in microseconds a sentence.

A linear model distilled from the bundled model (benchmarks/build_fast_scorer.py) predicts, for each sentence, the
same two quantities as `Scorer`: `pmi` with the request and, given a draft, `pmi_draft`, so the signals keep their
thresholds and meaning. Its features: the sentence's words and word pairs (hashed), each word marked by whether the
request uses it (stock language is likely whatever was asked; substance shares words with the question), how much
of the sentence the request and the draft share (weighted by how rare each word is in the training text), and length,
each dense feature also cut into bins so the fit can bend. The weights ship as data (data/fast_scorer.npz).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from constitutional.errors import UserError
from constitutional.text import STOPWORDS, sentences, shingles, words

if TYPE_CHECKING:
    from collections.abc import Collection, Hashable, Set

    import numpy as np
    from numpy.typing import NDArray

    from constitutional.evals.scorer import SentenceScore

WEIGHTS = Path(__file__).parent / "data" / "fast_scorer.npz"
BUCKETS = 1 << 13  # hashed word and word-pair features
BINS = (0.0, 0.05, 0.15, 0.3, 0.5, 0.7, 0.9)  # cut points of each dense feature in [0, 1]
DENSE = 16  # dense features (see dense())


def stem(word: str) -> str:
    return word.rstrip("s")[:6]


@dataclass(frozen=True)
class Rarity:
    """How rare each word stem is in the training text: idf = log(texts / texts with the stem)."""

    idf: dict[str, float]
    unseen: float

    def of(self, word: str) -> float:
        return self.idf.get(word, self.unseen)


def _weighted_share(mine: list[str], theirs: set[str], rarity: Rarity) -> float:
    total = sum(rarity.of(w) for w in mine)
    return sum(rarity.of(w) for w in mine if w in theirs) / total if total else 0.0


def _share(mine: Collection[Hashable], theirs: Set[Hashable]) -> float:
    return sum(w in theirs for w in mine) / len(mine) if mine else 0.0


def _draft_features(tokens: list[str], content: list[str], asked: set[str], draft: str, rarity: Rarity) -> list[float]:
    draft_words = words(draft)
    said = {stem(w) for w in draft_words if w not in STOPWORDS}
    pairs, draft_pairs = set(shingles(tokens)), set(shingles(draft_words))
    triples = set(zip(tokens, tokens[1:], tokens[2:]))
    draft_triples = set(zip(draft_words, draft_words[1:], draft_words[2:]))
    best = 0.0
    for other in sentences(draft):
        theirs = set(shingles(words(other)))
        if pairs and theirs:
            best = max(best, 2 * len(pairs & theirs) / (len(pairs) + len(theirs)))
    return [
        1.0,
        _share(content, said),
        _weighted_share(content, said, rarity),
        _share(pairs, draft_pairs),
        _share(triples, draft_triples),
        best,
        _share([w for w in content if w not in asked], said),
    ]


def dense(request: str, sentence: str, draft: str | None, rarity: Rarity) -> tuple[list[float], list[str]]:
    """DENSE features in [0, 1] (see the module docstring), and the sentence's content stems."""
    tokens = words(sentence)
    content = [stem(w) for w in tokens if w not in STOPWORDS]
    request_words = words(request)
    asked = {stem(w) for w in request_words if w not in STOPWORDS}
    shared = [rarity.of(w) for w in content if w in asked]
    features = [
        min(1.0, math.log1p(len(tokens)) / 4),
        min(1.0, math.log1p(len(request_words)) / 6),
        _share(content, asked),
        _weighted_share(content, asked, rarity),
        min(1.0, math.log1p(len(shared)) / 3),
        _share(asked, set(content)),
        1 - len(content) / len(tokens) if tokens else 1.0,
        min(1.0, sum(rarity.of(w) for w in content) / max(1, len(content)) / 10),
        min(1.0, max(shared, default=0.0) / 10),
    ]
    features += _draft_features(tokens, content, asked, draft, rarity) if draft is not None else [0.0] * 7
    return features, content


def hashed(sentence_stems: list[str], tokens: list[str], asked: set[str]) -> list[int]:
    """Bucket indices of the sentence's stems (marked in or out of the request) and word pairs."""
    keys = [f"{w}|{'in' if w in asked else 'out'}" for w in sentence_stems]
    keys += [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    return [zlib.crc32(k.encode("utf-8", "replace")) % BUCKETS for k in keys]


def features(request: str, sentence: str, draft: str | None, rarity: Rarity) -> tuple[list[float], list[int]]:
    """(dense features, hashed bucket indices) of one sentence: the student's whole input."""
    values, content = dense(request, sentence, draft, rarity)
    asked = {stem(w) for w in words(request) if w not in STOPWORDS}
    return values, hashed(content, words(sentence), asked)


def design_row(values: list[float], buckets: list[int]) -> tuple[list[int], list[float]]:
    """Sparse (columns, values) of one row: each dense value, its bin's one-hot, and the hashed buckets."""
    columns, row = [0], [1.0]  # the intercept
    for i, value in enumerate(values):
        columns.append(1 + i)
        row.append(value)
        columns.append(1 + DENSE + i * (len(BINS) + 1) + sum(value > cut for cut in BINS))
        row.append(1.0)
    start = 1 + DENSE * (len(BINS) + 2)
    scale = 1 / math.sqrt(max(1, len(buckets)))
    for bucket in buckets:
        columns.append(start + bucket)
        row.append(scale)
    return columns, row


WIDTH = 1 + DENSE * (len(BINS) + 2) + BUCKETS


class FastScorer:
    """Same interface as Scorer: `score(request, sentences, draft)` → (SentenceScore list, context cut)."""

    spec = "fast"

    def __init__(self, path: Path = WEIGHTS):
        import numpy as np

        if not path.is_file():
            raise UserError(
                f"the fast scorer's weights are missing ({path})",
                fix="reinstall constitutional, run `python benchmarks/build_fast_scorer.py PATH/TO/hh-rlhf`, "
                "or use --scorer local",
            )
        with np.load(path, allow_pickle=False) as data:
            self.pmi: NDArray[np.float64] = data["pmi"]
            self.pmi_draft: NDArray[np.float64] = data["pmi_draft"]
            self.tokens_per: NDArray[np.float64] = data["tokens_per"]  # tokens ≈ a·words + b·characters + c
            self.rarity = Rarity(dict(zip(data["vocab"].tolist(), data["idf"].tolist())), float(data["unseen"]))

    def score(self, request: str, texts: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        from constitutional.evals.scorer import SentenceScore

        out = []
        for text in texts:
            values, buckets = features(request, text, draft, self.rarity)
            columns, row = design_row(values, buckets)
            pmi = float(sum(self.pmi[c] * v for c, v in zip(columns, row)))
            restated = float(sum(self.pmi_draft[c] * v for c, v in zip(columns, row))) if draft is not None else None
            a, b, c = self.tokens_per
            tokens = max(1, round(a * len(words(text)) + b * len(text) + c))
            out.append(SentenceScore(text, pmi, tokens, restated))
        return out, False
