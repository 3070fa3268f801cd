"""A small local language model used as a *scorer*, never as a judge.

For each sentence of an answer it measures pointwise mutual information with the request: the mean
log-probability per token of the sentence after the request, minus the same after a neutral request.
Stock language ("you are valued", "this complies with all the principles", "please seek help") is about
as likely whatever was asked, so its PMI is near zero or below; substance depends on the question.
No phrase list is involved, so it judges wording it has never seen.

Each sentence is scored on its own right after its context, which is decoded once and kept in the KV
cache; many sentences are decoded in each llama.cpp call, each in its own sequence (decoding.py), and a long
sentence is decoded in chunks. A request longer than CONTEXT_TOKENS keeps its tail, and a
sentence longer than SENTENCE_TOKENS its head; either way the eval line says so (`scorer_context_cut`).
Neutral scores do not depend on the request and are memoised per process. With a cache (the reply cache),
every score persists across runs, keyed by the model file, the request and the sentence, so evaluating the
same text again costs no decoding.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from constitutional.errors import UserError, require_exists
from constitutional.evals.decoding import N_CTX
from constitutional.settings import SCORER_ENV, bad_value, read_settings

if TYPE_CHECKING:
    from constitutional.evals.decoding import Engine, Tokenizer

NEUTRAL_REQUEST = "Please write a reply."
NEUTRAL_KEPT = 50_000  # sentences whose neutral score is memoised
CONTEXT_TOKENS = 768  # the request's tail kept as context
SENTENCE_TOKENS = N_CTX - CONTEXT_TOKENS - 64  # a longer sentence is scored on its first this many tokens (flagged)


@dataclass(frozen=True)
class SentenceScore:
    text: str
    pmi: float  # nats per token: log p(sentence | request) − log p(sentence | neutral request)
    tokens: int
    pmi_draft: float | None = None  # nats per token: log p(sentence | request, draft) − log p(sentence | request)
    by: str | None = None  # the scorer that scored it, where several share the work (`fast+local`); None: the only one


def _key(model_id: str, request: str, sentence: str) -> str:
    payload = json.dumps({"scorer": model_id, "request": request, "sentence": sentence}, sort_keys=True, ensure_ascii=False)
    return "score:" + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def default_spec() -> str:
    """`local` when llama-cpp-python and the bundled model are installed, else `none`; CONSTITUTIONAL_SCORER overrides."""
    chosen = read_settings().scorer
    if chosen:
        return chosen
    try:
        import llama_cpp  # noqa: F401

        from constitutional.models.local import bundled_model_path

        bundled_model_path()
    except (ImportError, UserError):
        return "none"
    return "local"


def load_scorer(spec: str | None, cache: ScoreCache | None = None, workers: int = 1) -> Scorer | None:
    """`fast`, `local`, `local:PATH.gguf`, `fast+local[:PATH.gguf]` or `none` → a Scorer (or None), with a clear error
    when it cannot be had. `cache`: where scores persist across runs (the reply cache), keyed by model file, request and
    sentence. `workers`: processes that decode for the model scorer (scorer_pool.py); a scorer without a model has none."""
    named = not spec and read_settings().scorer is not None  # the spec is CONSTITUTIONAL_SCORER's
    spec = (spec or default_spec()).strip()
    if spec.lower() == "none":
        return None
    first, plus, model = spec.partition("+")
    if spec == "fast" or (plus and first == "fast"):
        from constitutional.evals.fast_scorer import FastScorer

        if not plus:
            return FastScorer()
        from constitutional.evals.hybrid_scorer import HybridScorer

        return HybridScorer(FastScorer(), _model_scorer(model, named, cache, workers))
    return _model_scorer(spec, named, cache, workers)


def _model_scorer(spec: str, named: bool, cache: ScoreCache | None, workers: int) -> ModelScorer:
    """The ModelScorer that `local` or `local:PATH.gguf` names."""
    kind, _, arg = spec.partition(":")
    if kind != "local":
        if named:
            raise bad_value(SCORER_ENV, spec, "is not a scorer")
        raise UserError(
            f"unknown scorer '{spec}'",
            fix="use --scorer fast, --scorer local, --scorer local:PATH.gguf, --scorer fast+local or --scorer none",
        )
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise UserError(
            "the local scorer needs llama-cpp-python, which is not installed",
            fix="run `bash scripts/install`, or use --scorer fast or --scorer none (no model)",
        ) from None
    from constitutional.models.local import bundled_model_path

    path = Path(arg) if arg else bundled_model_path()
    given = f"{SCORER_ENV}=local:PATH.gguf" if named else "--scorer local:PATH.gguf"
    require_exists(path, "scorer model file", fix=f"give an existing GGUF file as {given}, or use --scorer none")
    return ModelScorer(path, cache, workers)


class ScoreCache(Protocol):
    """Where scores persist across runs (the reply cache): get/put JSON objects by key."""

    def get(self, key: str) -> dict | None: ...
    def put(self, key: str, value: dict) -> None: ...


class Scorer(Protocol):
    """What the signals need of a scorer: its spec (named on every eval line) and each sentence's PMI."""

    spec: str

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]: ...


class ModelScorer:
    """The bundled model (or a GGUF file) as the scorer: PMI measured by decoding (decoding.py). Safe to call from many
    threads: tokenizing, the cache and the neutral memo are here; the engine decodes (one process's llama.cpp context,
    one call at a time, or a pool of processes: scorer_pool.py)."""

    def __init__(self, path: Path, cache: ScoreCache | None = None, workers: int = 1):
        from constitutional.evals.decoding import Decoder, Tokenizer

        self.path = path
        self.spec = f"local:{path.name}"
        self.cache = cache
        self.workers = workers
        self.engine: Engine
        self.tokenizer: Tokenizer
        if workers == 1:
            self.engine = self.tokenizer = Decoder(path, read_settings().threads)  # OMP_NUM_THREADS
        else:
            from constitutional.evals.scorer_pool import DecoderPool

            self.engine, self.tokenizer = DecoderPool(path, workers), Tokenizer(path)
        self._neutral: dict[str, tuple[float, int]] = {}
        self._model_id = f"{path.name}:{path.stat().st_size}"

    def close(self) -> None:
        """Stop the engine's worker processes, if it has any."""
        self.engine.close()

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        """Each sentence's PMI with the request (and, given the draft, with the draft too: how much more likely the
        sentence is once the draft has been said, i.e. how far it restates it), and whether the request or a
        sentence had to be shortened."""
        if not sentences:
            return [], False
        context, cut = self._context(request)
        with_request = self._cached(request, context, sentences)
        neutral = self._score_neutral(sentences)
        with_draft = (
            self._cached(f"{request}\0{draft}", self._draft_context(request, draft), sentences)
            if draft is not None
            else [(None, 0)] * len(sentences)
        )
        results = []
        for text, (logprob, n), (drafted, _) in zip(sentences, with_request, with_draft):
            restated = None if drafted is None else (drafted - logprob) / max(1, n)
            results.append(SentenceScore(text, (logprob - neutral[text][0]) / max(1, n), n, restated))
        return results, cut or any(n >= SENTENCE_TOKENS for _, n in with_request)

    def _draft_context(self, request: str, draft: str) -> list[int]:
        """The request, the draft as the assistant's first answer, and a request to revise it (tails, within
        CONTEXT_TOKENS in all)."""
        piece = self.tokenizer.tokenize
        return (
            piece("<|im_start|>user\n", True)
            + piece(request)[-(CONTEXT_TOKENS // 3) :]
            + piece("<|im_end|>\n<|im_start|>assistant\n", True)
            + piece(draft)[-(2 * CONTEXT_TOKENS // 3) :]
            + piece("<|im_end|>\n<|im_start|>user\nPlease revise your answer.<|im_end|>\n<|im_start|>assistant\n", True)
        )

    def _context(self, request: str) -> tuple[list[int], bool]:
        piece = self.tokenizer.tokenize
        body = piece(request)
        cut = len(body) > CONTEXT_TOKENS
        tail = piece("<|im_end|>\n<|im_start|>assistant\n", True)
        return piece("<|im_start|>user\n", True) + body[-CONTEXT_TOKENS:] + tail, cut

    def _score_neutral(self, sentences: list[str]) -> dict[str, tuple[float, int]]:
        """The sentences' neutral scores: memoised ones, and the rest decoded after the neutral context at once."""
        known = self._neutral
        found = {s: known[s] for s in sentences if s in known}
        missing = [s for s in dict.fromkeys(sentences) if s not in found]
        if missing:
            if len(known) + len(missing) > NEUTRAL_KEPT:
                known.clear()
            context, _ = self._context(NEUTRAL_REQUEST)
            computed = dict(zip(missing, self._cached(NEUTRAL_REQUEST, context, missing)))
            known.update(computed)
            found.update(computed)
        return found

    def _cached(self, request: str, context: list[int], sentences: list[str]) -> list[tuple[float, int]]:
        """Log-probabilities from the score cache where it has them; the rest computed (in one pass) and stored."""
        if self.cache is None:
            return self._logprobs(context, sentences)
        keys = [_key(self._model_id, request, s) for s in sentences]
        found: list[object] = [(self.cache.get(k) or {}).get("parsed") for k in keys]  # stored like a reply: {"parsed": score}
        missing = [i for i, hit in enumerate(found) if not (isinstance(hit, dict) and "logprob" in hit)]
        computed = self._logprobs(context, [sentences[i] for i in missing]) if missing else []
        for i, (logprob, n) in zip(missing, computed):
            found[i] = {"logprob": logprob, "tokens": n}
            self.cache.put(keys[i], {"parsed": found[i]})
        scores = []
        for hit in found:
            assert isinstance(hit, dict)  # each entry that was not a stored score was computed and filled in above
            scores.append((hit["logprob"], hit["tokens"]))
        return scores

    def _logprobs(self, context: list[int], sentences: list[str]) -> list[tuple[float, int]]:
        """(log p(sentence | context), tokens) of each sentence, its first SENTENCE_TOKENS tokens scored."""
        tokens = [self.tokenizer.tokenize(s)[:SENTENCE_TOKENS] for s in sentences]
        scored = [i for i, t in enumerate(tokens) if t]
        totals = self.engine.logprobs(context, [tokens[i] for i in scored]) if scored else []
        out = [(0.0, 0)] * len(sentences)
        for i, total in zip(scored, totals):
            out[i] = (total, len(tokens[i]))
        return out
