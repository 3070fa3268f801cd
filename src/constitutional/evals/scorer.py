"""A small local language model used as a *scorer*, never as a judge.

For each sentence of an answer it measures pointwise mutual information with the request: the mean
log-probability per token of the sentence after the request, minus the same after a neutral request.
Stock language ("you are valued", "this complies with all the principles", "please seek help") is about
as likely whatever was asked, so its PMI is near zero or below; substance depends on the question.
No phrase list is involved, so it judges wording it has never seen.

Each sentence is scored on its own right after its context, which is decoded once and kept in the KV
cache; a long sentence is decoded in chunks. A request longer than CONTEXT_TOKENS keeps its tail, and a
sentence longer than SENTENCE_TOKENS its head; either way the eval line says so (`scorer_context_cut`).
Neutral scores do not depend on the request and are memoised per process. With a cache (the reply cache),
every score persists across runs, keyed by the model file, the request and the sentence, so evaluating the
same text again costs no decoding.

`load_scorer` is the one way to a scorer: this one (`local`, `local:PATH.gguf`), the fast scorer (`fast`,
evals/fast_scorer.py) or the same measurement on a completions server (`openai/MODEL`, evals/server_scorer.py,
which writes the contexts below as text). The eval gets each record's scores through `score_async`: a scorer that
waits on a server (AsyncScorer) is awaited for many records at once, any other runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, overload, runtime_checkable

from constitutional import activity
from constitutional.errors import UserError
from constitutional.settings import SCORER_ENV, bad_value, read_settings

if TYPE_CHECKING:
    import llama_cpp
    import numpy as np
    from numpy.typing import NDArray

    from constitutional.calls.factory import Calls
    from constitutional.calls.settings import CallSettings

SERVER_PREFIX = "openai/"  # `openai/MODEL`: a completions server that returns prompt log-probabilities
NEUTRAL_REQUEST = "Please write a reply."
NEUTRAL_KEPT = 50_000  # sentences whose neutral score is memoised
CONTEXT_TOKENS = 768  # the request's tail kept as context
CHUNK = 512  # tokens per llama.cpp decode call
N_CTX = 4096
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
    spec: str | None, cache: ScoreCache | None = None, *, calls: Calls | None = None, settings: CallSettings | None = None
) -> Scorer | None:
    """`fast`, `local`, `local:PATH.gguf`, `openai/MODEL` or `none` → a Scorer (or None), with a clear error when it
    cannot be had: the one way every command gets its scorer. `cache`: where scores persist across runs (the reply
    cache), keyed by model, request and sentence; by default `calls`'s (the job's call factory) for `settings`.
    `openai/MODEL` is a completions server (evals/server_scorer.py), made by `calls` (or a factory of its own) from
    `settings` (the eval's call settings, with the scorer's server as base_url), and probed once before any work: a
    scorer made here must be closed (`close_scorer`)."""
    named = not spec and read_settings().scorer is not None  # the spec is CONSTITUTIONAL_SCORER's
    spec = (spec or default_spec()).strip()
    if spec.lower() == "none":
        return None
    kind, _, arg = spec.partition(":")
    if spec == "fast":
        from constitutional.evals.fast_scorer import FastScorer

        return FastScorer()
    if spec.startswith(SERVER_PREFIX) and spec != SERVER_PREFIX:
        from constitutional.evals.server_scorer import ServerScorer

        return ServerScorer.connect(spec, calls, settings, cache)
    if kind != "local":
        if named:
            raise bad_value(SCORER_ENV, spec, "is not a scorer")
        raise UserError(
            f"unknown scorer '{spec}'",
            fix="use --scorer fast, --scorer local, --scorer local:PATH.gguf, --scorer openai/MODEL (a completions server "
            "given by --scorer-base-url) or --scorer none",
        )
    if cache is None and calls is not None:
        cache = calls.reply_cache(settings)
    return ModelScorer(_local_model(arg, named), cache)


def _local_model(arg: str, named: bool) -> Path:
    """The GGUF file of `local` or `local:PATH.gguf`, with the fix when it cannot be had."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise UserError(
            "the local scorer needs llama-cpp-python, which is not installed",
            fix="run `bash scripts/install`, or use --scorer none (the lexicon and structure alone)",
        ) from None
    from constitutional.models.local import bundled_model_path, check_gguf

    path = Path(arg) if arg else bundled_model_path()
    given = f"{SCORER_ENV}=local:PATH.gguf" if named else "--scorer local:PATH.gguf"
    return check_gguf(path, "scorer model file", fix=f"give an existing GGUF file as {given}, or use --scorer none")


def close_scorer(scorer: Scorer | None) -> None:
    """Release what a scorer holds (a server scorer's event loop and connections); nothing for the others."""
    if isinstance(scorer, AsyncScorer):
        scorer.close()


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
    """The bundled model (or a GGUF file) as the scorer: PMI measured by decoding."""

    def __init__(self, path: Path, cache: ScoreCache | None = None):
        self.path = path
        self.spec = f"local:{path.name}"
        self.cache = cache
        self._lock = threading.Lock()  # one llama.cpp context: one scoring at a time
        self._llm: llama_cpp.Llama | None = None
        self._neutral: dict[str, tuple[float, int]] = {}
        self._model_id = f"{path.name}:{path.stat().st_size}"

    def _model(self) -> llama_cpp.Llama:
        if self._llm is None:
            import llama_cpp

            from constitutional.models.local import unloadable

            threads = read_settings().threads  # OMP_NUM_THREADS
            try:
                with activity.step(f"loading the local scorer ({self.path.name})"):
                    self._llm = llama_cpp.Llama(
                        model_path=str(self.path),
                        n_ctx=N_CTX,
                        n_batch=CHUNK,
                        verbose=False,
                        n_threads=threads,
                        n_threads_batch=threads,
                    )
            except ValueError as exc:  # GGUF's signature, but not a file llama.cpp can load
                raise unloadable(self.path, exc) from None
            self._batch = llama_cpp.llama_batch_init(CHUNK, 0, 1)
        return self._llm

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        """Each sentence's PMI with the request (and, given the draft, with the draft too: how much more likely the
        sentence is once the draft has been said, i.e. how far it restates it), and whether the request or a
        sentence had to be shortened."""
        if not sentences:
            return [], False
        with self._lock:
            context, cut = self._context(request)
            with_request = self._cached(request, context, sentences)
            self._score_neutral(sentences)
            with_draft = (
                self._cached(f"{request}\0{draft}", self._draft_context(request, draft), sentences) if draft is not None else None
            )
            return combine(sentences, with_request, [self._neutral[s] for s in sentences], with_draft, cut)

    def _draft_context(self, request: str, draft: str) -> list[int]:
        """The request, the draft as the assistant's first answer, and a request to revise it (tails, within
        CONTEXT_TOKENS in all)."""
        llm = self._model()
        piece = lambda text, special: llm.tokenize(text.encode("utf-8", "replace"), add_bos=False, special=special)  # noqa: E731
        return (
            piece(USER, True)
            + piece(request, False)[-DRAFT_REQUEST_TOKENS:]
            + piece(ASSISTANT, True)
            + piece(draft, False)[-DRAFT_TOKENS:]
            + piece(REVISE, True)
        )

    def _context(self, request: str) -> tuple[list[int], bool]:
        llm = self._model()
        head = llm.tokenize(USER.encode(), add_bos=False, special=True)
        tail = llm.tokenize(ASSISTANT.encode(), add_bos=False, special=True)
        body = llm.tokenize(request.encode("utf-8", "replace"), add_bos=False, special=False)
        cut = len(body) > CONTEXT_TOKENS
        return head + body[-CONTEXT_TOKENS:] + tail, cut

    def _score_neutral(self, sentences: list[str]) -> None:
        """Memoise the neutral scores of the sentences not seen yet, decoding the neutral context once for them all."""
        missing = [s for s in dict.fromkeys(sentences) if s not in self._neutral]
        if not missing:
            return
        if len(self._neutral) + len(missing) > NEUTRAL_KEPT:
            self._neutral.clear()
        context, _ = self._context(NEUTRAL_REQUEST)
        self._neutral.update(zip(missing, self._cached(NEUTRAL_REQUEST, context, missing)))

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
        import llama_cpp

        llm = self._model()
        memory = llama_cpp.llama_get_memory(llm.ctx)
        llama_cpp.llama_memory_clear(memory, True)
        self._decode(context[:-1], 0, logits=False)
        start = len(context) - 1
        out = []
        for sentence in sentences:
            tokens = llm.tokenize(sentence.encode("utf-8", "replace"), add_bos=False, special=False)[:SENTENCE_TOKENS]
            out.append((self._continuation(context[-1], tokens, start), len(tokens)))
            llama_cpp.llama_memory_seq_rm(memory, 0, start, -1)
        return out

    def _continuation(self, last: int, tokens: list[int], start: int) -> float:
        """log p(tokens | the cached context), decoding [last, *tokens] from `start` in chunks."""
        import numpy as np

        sequence = [last, *tokens]
        total = 0.0
        for offset in range(0, len(sequence) - 1, CHUNK):
            piece = sequence[offset : offset + CHUNK]
            rows = self._decode(piece, start + offset, logits=True)
            targets = sequence[offset + 1 : offset + 1 + len(piece)]
            rows = rows[: len(targets)]
            peak = rows.max(axis=1, keepdims=True)
            norm = np.log(np.exp(rows - peak).sum(axis=1)) + peak[:, 0]
            total += float((rows[np.arange(len(targets)), targets] - norm).sum())
        return total

    @overload
    def _decode(self, tokens: list[int], start: int, logits: Literal[True]) -> NDArray[np.float32]: ...
    @overload
    def _decode(self, tokens: list[int], start: int, logits: Literal[False]) -> None: ...
    def _decode(self, tokens: list[int], start: int, logits: bool) -> NDArray[np.float32] | None:
        import llama_cpp
        import numpy as np

        llm = self._model()  # loaded already, by _logprobs
        batch = self._batch
        for begin in range(0, len(tokens), CHUNK):
            piece = tokens[begin : begin + CHUNK]
            batch.n_tokens = len(piece)
            for i, token in enumerate(piece):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, start + begin + i, 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = logits
            if llama_cpp.llama_decode(llm.ctx, batch) != 0:
                raise RuntimeError("llama.cpp could not decode the text to score")
        if not logits:
            return None
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(len(tokens), llm.n_vocab()))
