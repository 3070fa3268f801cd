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


@dataclass(frozen=True)
class Context:
    """What a sentence's features need of its request and draft, worked out once for all the sentences scored
    against them."""

    request_words: list[str]
    asked: set[str]  # the request's content stems
    said: set[str] | None = None  # the draft's content stems (None: no draft)
    draft_pairs: Set[tuple[str, str]] = frozenset()
    draft_triples: Set[tuple[str, str, str]] = frozenset()
    draft_sentence_pairs: tuple[Set[tuple[str, str]], ...] = ()  # each draft sentence's word pairs

    @classmethod
    def of(cls, request: str, draft: str | None) -> Context:
        request_words = words(request)
        asked = {stem(w) for w in request_words if w not in STOPWORDS}
        if draft is None:
            return cls(request_words, asked)
        draft_words = words(draft)
        return cls(
            request_words,
            asked,
            {stem(w) for w in draft_words if w not in STOPWORDS},
            set(shingles(draft_words)),
            set(zip(draft_words, draft_words[1:], draft_words[2:])),
            tuple(set(shingles(words(other))) for other in sentences(draft)),
        )


def _draft_features(tokens: list[str], content: list[str], context: Context, rarity: Rarity) -> list[float]:
    said = context.said
    assert said is not None  # called only with a draft
    pairs = set(shingles(tokens))
    triples = set(zip(tokens, tokens[1:], tokens[2:]))
    best = 0.0
    for theirs in context.draft_sentence_pairs:
        if pairs and theirs:
            best = max(best, 2 * len(pairs & theirs) / (len(pairs) + len(theirs)))
    return [
        1.0,
        _share(content, said),
        _weighted_share(content, said, rarity),
        _share(pairs, context.draft_pairs),
        _share(triples, context.draft_triples),
        best,
        _share([w for w in content if w not in context.asked], said),
    ]


def dense(context: Context, tokens: list[str], rarity: Rarity) -> tuple[list[float], list[str]]:
    """DENSE features in [0, 1] (see the module docstring) of the sentence whose words are `tokens`, and its content
    stems."""
    content = [stem(w) for w in tokens if w not in STOPWORDS]
    asked = context.asked
    shared = [rarity.of(w) for w in content if w in asked]
    values = [
        min(1.0, math.log1p(len(tokens)) / 4),
        min(1.0, math.log1p(len(context.request_words)) / 6),
        _share(content, asked),
        _weighted_share(content, asked, rarity),
        min(1.0, math.log1p(len(shared)) / 3),
        _share(asked, set(content)),
        1 - len(content) / len(tokens) if tokens else 1.0,
        min(1.0, sum(rarity.of(w) for w in content) / max(1, len(content)) / 10),
        min(1.0, max(shared, default=0.0) / 10),
    ]
    values += _draft_features(tokens, content, context, rarity) if context.said is not None else [0.0] * 7
    return values, content


def hashed(sentence_stems: list[str], tokens: list[str], asked: set[str]) -> list[int]:
    """Bucket indices of the sentence's stems (marked in or out of the request) and word pairs."""
    keys = [f"{w}|{'in' if w in asked else 'out'}" for w in sentence_stems]
    keys += [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    return [zlib.crc32(k.encode("utf-8", "replace")) % BUCKETS for k in keys]


def sentence_features(context: Context, sentence: str, rarity: Rarity) -> tuple[list[float], list[int]]:
    """(dense features, hashed bucket indices) of one sentence: the student's whole input."""
    tokens = words(sentence)
    values, content = dense(context, tokens, rarity)
    return values, hashed(content, tokens, context.asked)


def features(request: str, sentence: str, draft: str | None, rarity: Rarity) -> tuple[list[float], list[int]]:
    """`sentence_features` of one sentence on its own (the fit's rows)."""
    return sentence_features(Context.of(request, draft), sentence, rarity)


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
            self.offsets: NDArray[np.float64] = data["offsets"]  # see benchmarks/fit_fast_scorer.py `offset`
            self.tokens_per: NDArray[np.float64] = data["tokens_per"]  # tokens ≈ a·words + b·characters + c
            self.rarity = Rarity(dict(zip(data["vocab"].tolist(), data["idf"].tolist())), float(data["unseen"]))

    def score(self, request: str, texts: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        from constitutional.evals.scorer import SentenceScore

        out, context = [], Context.of(request, draft)
        for text in texts:
            values, buckets = sentence_features(context, text, self.rarity)
            columns, row = design_row(values, buckets)
            pmi = float(sum(self.pmi[c] * v for c, v in zip(columns, row))) + self.offsets[0]
            restated = (
                float(sum(self.pmi_draft[c] * v for c, v in zip(columns, row))) + self.offsets[1] if draft is not None else None
            )
            a, b, c = self.tokens_per
            tokens = max(1, round(a * len(words(text)) + b * len(text) + c))
            out.append(SentenceScore(text, pmi, tokens, restated))
        return out, False
