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

`load_scorer` is the one way to a scorer: this one (`local`, `local:PATH.gguf`), the fast scorer (`fast`,
evals/fast_scorer.py), the fast scorer asking this one where it is unsure (`fast+local`, evals/hybrid_scorer.py) or
the same measurement on a completions server (`openai/MODEL`, evals/server_scorer.py, which writes the contexts below
as text). The eval gets each record's scores through `score_async`: a scorer that waits on a server (AsyncScorer) is
awaited for many records at once, any other runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from constitutional.errors import UserError
from constitutional.evals.decoding import N_CTX
from constitutional.settings import SCORER_ENV, bad_value, read_settings

if TYPE_CHECKING:
    from constitutional.calls.factory import Calls
    from constitutional.calls.settings import CallSettings
    from constitutional.evals.decoding import Engine, Tokenizer

SERVER_PREFIX = "openai/"  # `openai/MODEL`: a completions server that returns prompt log-probabilities
NEUTRAL_REQUEST = "Please write a reply."
NEUTRAL_KEPT = 50_000  # sentences whose neutral score is memoised
CONTEXT_TOKENS = 768  # the request's tail kept as context
SENTENCE_TOKENS = N_CTX - CONTEXT_TOKENS - 64  # a longer sentence is scored on its first this many tokens (flagged)
DRAFT_REQUEST_TOKENS, DRAFT_TOKENS = CONTEXT_TOKENS // 3, 2 * CONTEXT_TOKENS // 3  # the tails kept after the draft
# The contexts, in SmolLM2's chat template (ChatML): "{USER}{request}{ASSISTANT}{sentence}" scores a sentence after the
# request, and "{USER}{request}{ASSISTANT}{draft}{REVISE}{sentence}" after the draft too. Every scorer writes them so.
USER = "<|im_start|>user\n"
ASSISTANT = "<|im_end|>\n<|im_start|>assistant\n"
REVISE = "<|im_end|>\n<|im_start|>user\nPlease revise your answer.<|im_end|>\n<|im_start|>assistant\n"


@dataclass(frozen=True)
class SentenceScore:
    text: str
    pmi: float  # nats per token: log p(sentence | request) − log p(sentence | neutral request)
    tokens: int
    pmi_draft: float | None = None  # nats per token: log p(sentence | request, draft) − log p(sentence | request)
    by: str | None = None  # the scorer that scored it, where several share the work (`fast+local`); None: the only one


@dataclass(frozen=True)
class Scored:
    """One record's scored sentences, as the signals take them (`score_async`)."""

    scores: list[SentenceScore]
    cut: bool  # the request or a sentence was shortened to fit (`scorer_context_cut`)
    scorer: str  # the spec of the scorer that scored them
    fallback: str | None = None  # why another scorer than the one asked for scored them (a reason for the eval line)


def combine(
    sentences: list[str],
    with_request: list[tuple[float, int]],
    neutral: list[tuple[float, int]],
    with_draft: list[tuple[float, int]] | None,
    cut: bool,
) -> tuple[list[SentenceScore], bool]:
    """Each sentence's scores from its log-probabilities (and token counts) after the request, after the neutral
    request and after the draft; and whether anything was shortened (`cut`, or a sentence of SENTENCE_TOKENS)."""
    results = []
    for i, (text, (logprob, n)) in enumerate(zip(sentences, with_request)):
        restated = None if with_draft is None else (with_draft[i][0] - logprob) / max(1, n)
        results.append(SentenceScore(text, (logprob - neutral[i][0]) / max(1, n), n, restated))
    return results, cut or any(n >= SENTENCE_TOKENS for _, n in with_request)


def score_key(model_id: str, request: str, sentence: str) -> str:
    """The reply-cache key of one sentence's log-probability after `request` (a context's name) with one model."""
    payload = json.dumps({"scorer": model_id, "request": request, "sentence": sentence}, sort_keys=True, ensure_ascii=False)
    return "score:" + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def default_spec() -> str:
    """`fast` (the distilled scorer shipped as data: no model to load, microseconds a sentence);
    CONSTITUTIONAL_SCORER overrides."""
    return read_settings().scorer or "fast"


def load_scorer(
    spec: str | None,
    cache: ScoreCache | None = None,
    *,
    calls: Calls | None = None,
    settings: CallSettings | None = None,
    workers: int = 1,
) -> Scorer | None:
    """`fast`, `local`, `local:PATH.gguf`, `fast+local[:PATH.gguf]`, `openai/MODEL` or `none` → a Scorer (or None), with
    a clear error when it cannot be had: the one way every command gets its scorer. `cache`: where scores persist across
    runs (the reply cache), keyed by model, request and sentence; by default `calls`'s (the job's call factory) for
    `settings`. `openai/MODEL` is a completions server (evals/server_scorer.py), made by `calls` (or a factory of its
    own) from `settings` (the eval's call settings, with the scorer's server as base_url), and probed once before any
    work. `workers`: processes that decode for the model scorer (scorer_pool.py); a scorer without a model has none.
    A scorer made here must be closed (`close_scorer`)."""
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

        return HybridScorer(FastScorer(), _model_scorer(model, named, _reply_cache(cache, calls, settings), workers))
    if spec.startswith(SERVER_PREFIX) and spec != SERVER_PREFIX:
        from constitutional.evals import scorer_process

        return scorer_process.load(spec, calls, settings, cache)
    return _model_scorer(spec, named, _reply_cache(cache, calls, settings), workers)


def _reply_cache(cache: ScoreCache | None, calls: Calls | None, settings: CallSettings | None) -> ScoreCache | None:
    """`cache`, or else the reply cache of `calls` for `settings` (none without `calls`)."""
    if cache is None and calls is not None:
        return calls.reply_cache(settings)
    return cache


def _model_scorer(spec: str, named: bool, cache: ScoreCache | None, workers: int) -> ModelScorer:
    """The ModelScorer that `local` or `local:PATH.gguf` names."""
    kind, _, arg = spec.partition(":")
    if kind != "local":
        if named:
            raise bad_value(SCORER_ENV, spec, "is not a scorer")
        raise UserError(
            f"unknown scorer '{spec}'",
            fix="use --scorer fast, --scorer local, --scorer local:PATH.gguf, --scorer fast+local, --scorer openai/MODEL "
            "(a completions server given by --scorer-base-url) or --scorer none",
        )
    return ModelScorer(_local_model(arg, named), cache, workers)


def _local_model(arg: str, named: bool) -> Path:
    """The GGUF file of `local` or `local:PATH.gguf`, with the fix when it cannot be had."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise UserError(
            "the local scorer needs llama-cpp-python, which is not installed",
            fix="run `bash scripts/install`, or use --scorer fast or --scorer none (no model)",
        ) from None
    from constitutional.models.local import bundled_model_path, check_gguf

    path = Path(arg) if arg else bundled_model_path()
    given = f"{SCORER_ENV}=local:PATH.gguf" if named else "--scorer local:PATH.gguf"
    return check_gguf(path, "scorer model file", fix=f"give an existing GGUF file as {given}, or use --scorer none")


def close_scorer(scorer: Scorer | None) -> None:
    """Release what a scorer holds: a server scorer's event loop and connections, a model scorer's worker processes."""
    close = getattr(scorer, "close", None)
    if close is not None:
        close()


async def score_async(scorer: Scorer, request: str, sentences: list[str], draft: str | None = None) -> Scored:
    """`scorer`'s scores without blocking the event loop: a scorer with its own event loop (AsyncScorer) is awaited;
    any other (it decodes with a model, or computes) runs in a worker thread."""
    if isinstance(scorer, AsyncScorer):
        return await scorer.ascore(request, sentences, draft)
    scores, cut = await asyncio.to_thread(scorer.score, request, sentences, draft)
    return Scored(scores, cut, scorer.spec)


class ScoreCache(Protocol):
    """Where scores persist across runs (the reply cache): get/put JSON objects by key."""

    def get(self, key: str) -> dict | None: ...
    def put(self, key: str, value: dict) -> None: ...


class Scorer(Protocol):
    """What the signals need of a scorer: its spec (named on every eval line) and each sentence's PMI."""

    spec: str

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]: ...


@runtime_checkable
class AsyncScorer(Scorer, Protocol):
    """A scorer whose work is waiting on a server: it runs its requests on an event loop of its own, so many
    records are scored at once (`score_async` awaits it), and `close` stops that loop."""

    async def ascore(self, request: str, sentences: list[str], draft: str | None = None) -> Scored: ...
    def close(self) -> None: ...


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
            self._cached(f"{request}\0{draft}", self._draft_context(request, draft), sentences) if draft is not None else None
        )
        return combine(sentences, with_request, [neutral[s] for s in sentences], with_draft, cut)

    def _draft_context(self, request: str, draft: str) -> list[int]:
        """The request, the draft as the assistant's first answer, and a request to revise it (tails, within
        CONTEXT_TOKENS in all)."""
        piece = self.tokenizer.tokenize
        return (
            piece(USER, True)
            + piece(request)[-DRAFT_REQUEST_TOKENS:]
            + piece(ASSISTANT, True)
            + piece(draft)[-DRAFT_TOKENS:]
            + piece(REVISE, True)
        )

    def _context(self, request: str) -> tuple[list[int], bool]:
        piece = self.tokenizer.tokenize
        body = piece(request)
        cut = len(body) > CONTEXT_TOKENS
        return piece(USER, True) + body[-CONTEXT_TOKENS:] + piece(ASSISTANT, True), cut

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
        keys = [score_key(self._model_id, request, s) for s in sentences]
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
