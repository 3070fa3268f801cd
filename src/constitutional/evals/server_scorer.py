"""`--scorer openai/MODEL`: the scorer's log-probabilities from an OpenAI-compatible text-completions server.

The measurement is the local scorer's (evals/scorer.py), read from a server. Each sentence is sent after its context,
written in the same chat template (scorer.USER, ASSISTANT, REVISE), as one request

    POST {base_url}/completions
    {"model": MODEL, "prompt": CONTEXT + SENTENCE, "echo": true, "logprobs": 1, "max_tokens": 1, "temperature": 0}

and the log-probabilities the server returns for the prompt's own tokens (`echo`) are summed over the sentence's
tokens: those whose `text_offset` lies in the prompt's last len(SENTENCE) characters, counted back from the end of
the prompt (servers differ in how they render the template's special tokens, not in the sentence's text).
`max_tokens` is 1 because llama-cpp-python reads 0 as "no limit" and vLLM refuses 0; the generated token is left
out (the reply's `usage.completion_tokens` says how many there were).

The requests go through the call layer as every model call does: the job's factory (`Calls`) makes the model, so they
share the endpoint's rate limits, the one retry policy and the reply cache, where the scores persist like the local
scorer's (keyed by model and server, request and sentence). At most the call settings' concurrency are in flight.
The scorer runs them on an event loop of its own, in a thread: a synchronous `score()` works from any thread, and
the eval awaits `ascore()` for many records at once.

Before any work, `connect` probes the server once (per server and model, per process): one that cannot be reached,
or that returns no log-probabilities for the prompt, stops the command (exit 2) with the fix. A record whose
requests still fail after the retries is scored by the fast scorer, and its eval line says so (`Scored.fallback`).

Cuts, as the local scorer's: a request over CONTEXT_TOKENS tokens keeps its last CONTEXT_TOKENS (and after a draft,
the request its last DRAFT_REQUEST_TOKENS, the draft its last DRAFT_TOKENS). With no tokenizer here, a text of more
bytes than the tokens it may keep is echoed once to learn its token boundaries, and cut at one (persisted in the
reply cache). A sentence over SENTENCE_TOKENS is sent whole and its first SENTENCE_TOKENS tokens are summed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from constitutional.calls.factory import Calls, call_settings
from constitutional.concurrency import Bounded
from constitutional.errors import UserError
from constitutional.evals.scorer import (
    ASSISTANT,
    CONTEXT_TOKENS,
    DRAFT_REQUEST_TOKENS,
    DRAFT_TOKENS,
    NEUTRAL_KEPT,
    NEUTRAL_REQUEST,
    REVISE,
    SENTENCE_TOKENS,
    USER,
    Scored,
    combine,
    score_key,
)
from constitutional.models.api_access import server
from constitutional.models.base import ModelError
from constitutional.models.openai_provider import BASE_URL_ENV, OpenAIModel
from constitutional.text import clip

if TYPE_CHECKING:
    from collections.abc import Awaitable, Coroutine
    from concurrent.futures import Future

    from constitutional.calls.managed import ManagedModel
    from constitutional.calls.settings import CallSettings
    from constitutional.evals.fast_scorer import FastScorer
    from constitutional.evals.scorer import ScoreCache, SentenceScore

T = TypeVar("T")
ECHO = {"echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0}  # the prompt's log-probabilities, one token made
PROBE = ("How do I boil an egg?", "Put the egg in boiling water for eight minutes.")
SERVERS = "llama-cpp-python's (`python -m llama_cpp.server --model FILE.gguf`) or vLLM's (`vllm serve MODEL`)"
probed: set[str] = set()  # model@server pairs that answered the probe with log-probabilities, in this process


class NoLogprobs(ModelError):
    """A reply without log-probabilities for the prompt's tokens: this server cannot score (not worth a retry)."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


def echoed(reply: dict, length: int) -> list[tuple[int, float]]:
    """(offset in the text, log-probability) of each token of the text that ends the prompt of `reply` and is
    `length` characters long. Raises NoLogprobs when the reply holds none for the prompt."""
    try:
        choice = reply["choices"][0]
        found = choice["logprobs"]
        offsets, values, tokens = list(found["text_offset"]), list(found["token_logprobs"]), list(found["tokens"])
    except (KeyError, IndexError, TypeError) as exc:
        raise NoLogprobs(f"the reply has no logprobs with text_offset, token_logprobs and tokens (no {exc})") from None
    made = (reply.get("usage") or {}).get("completion_tokens")
    if not isinstance(made, int):
        made = 1 if choice.get("finish_reason") == "length" else 0
    prompt = len(tokens) - made
    if prompt < 1 or not len(offsets) == len(values) == len(tokens):
        raise NoLogprobs(f"log-probabilities for {len(tokens)} token(s), {made} of them generated: none for the prompt")
    start = offsets[prompt - 1] + len(tokens[prompt - 1]) - length
    span = [(at - start, value) for at, value in zip(offsets[:prompt], values[:prompt]) if at >= start]
    if length and (not span or not all(isinstance(value, (int, float)) for _, value in span)):
        raise NoLogprobs("no log-probabilities for the prompt's own tokens (the server gives them for generated tokens only)")
    return span


async def all_of(*jobs: Awaitable[Any]) -> list[Any]:
    """Every job's result, run at once; the first failure is raised and the jobs still running are cancelled."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()


def _shared(job: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task that several records await (shielded, so one record's cancelling leaves it to the others)."""
    task = asyncio.ensure_future(job)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())  # a failure is each awaiter's to see
    return task


def _failed(task: asyncio.Task) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


@cache
def _fast() -> FastScorer:
    from constitutional.evals.fast_scorer import FastScorer

    return FastScorer()


def scored_by_fast(request: str, sentences: list[str], draft: str | None, why: str) -> Scored:
    """The record scored by the fast scorer, because the server could not (`why`, a reason for its eval line)."""
    scores, cut = _fast().score(request, sentences, draft)
    return Scored(scores, cut, _fast().spec, f"{why}; the fast scorer scored it instead, so its scored signals are an estimate")


class ServerScorer:
    """The scorer on a completions server (see the module's doc). Made by `load_scorer` through `connect`."""

    def __init__(self, model: ManagedModel, server: OpenAIModel, cache: ScoreCache | None):
        self.model = model
        self.server = server
        self.spec = model.spec
        self.cache = cache
        self.fallbacks = 0  # records the fast scorer scored because the server failed
        self._model_id = f"{model.spec}@{model.endpoint}"
        self._slots = Bounded(model.default_concurrency)
        self._neutral: dict[str, asyncio.Task[list[tuple[float, int]]]] = {}
        self._offsets: dict[str, asyncio.Task[list[int]]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="server-scorer", daemon=True)
        self._thread.start()

    @classmethod
    def connect(cls, spec: str, calls: Calls | None, settings: CallSettings | None, cache: ScoreCache | None) -> ServerScorer:
        """The scorer of `spec` (`openai/MODEL`) on the server of `settings` (base_url, else OPENAI_BASE_URL), made by
        `calls` (else a factory of its own, with no cache), probed before it is returned."""
        settings = settings or call_settings()
        if server(settings.base_url, BASE_URL_ENV) is None:
            raise UserError(
                f"the scorer '{spec}' needs a completions server that returns prompt log-probabilities",
                fix=f"give its URL with --scorer-base-url (or {BASE_URL_ENV}), e.g. {SERVERS}; or use --scorer fast",
            )
        factory = calls or Calls(settings)
        model = factory.model(spec, settings, strict=False)
        assert isinstance(model.inner, OpenAIModel)  # load_scorer sends only `openai/` specs here
        if cache is None and calls is not None:
            cache = calls.reply_cache(settings)
        scorer = cls(model, model.inner, cache)
        try:
            scorer._run(scorer._probe())
        except BaseException:
            scorer.close()
            raise
        return scorer

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        """The Scorer protocol's: from any thread but the scorer's own."""
        found = self._run(self._score(request, sentences, draft))
        return found.scores, found.cut

    async def ascore(self, request: str, sentences: list[str], draft: str | None = None) -> Scored:
        """The record's scores, awaited from any event loop; the requests run on the scorer's own."""
        return await asyncio.wrap_future(self.submit(request, sentences, draft))

    def submit(self, request: str, sentences: list[str], draft: str | None = None) -> Future[Scored]:
        """The record's scores as a future any thread may wait on (the requests run on the scorer's own loop)."""
        return asyncio.run_coroutine_threadsafe(self._score(request, sentences, draft), self._loop)

    def close(self) -> None:
        """Close the connections and stop the scorer's event loop (the reply cache is the factory's)."""
        if self._loop.is_closed():
            return
        try:
            self._run(self.model.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    async def _probe(self) -> None:
        """Refuse, before any work, a server that cannot be reached or returns no prompt log-probabilities."""
        if self._model_id in probed:
            return
        request, sentence = PROBE
        where = f"the scorer {self.spec} at {self.model.endpoint}"
        try:
            echoed(await self._complete(USER + request + ASSISTANT + sentence), len(sentence))
        except NoLogprobs as exc:
            raise UserError(
                f"{where} returns no log-probabilities for the prompt: {exc}",
                fix=f"use a server that returns them with echo and logprobs, {SERVERS} (llama.cpp's own "
                "llama-server does not); or use --scorer fast",
            ) from None
        except ModelError as exc:
            raise UserError(
                f"{where} did not answer a completions request: {exc}",
                fix="start the server, check --scorer-base-url and the model name; or use --scorer fast",
            ) from None
        probed.add(self._model_id)

    async def _score(self, request: str, sentences: list[str], draft: str | None) -> Scored:
        """The record's scores from the server, else (it still failed after the retries) from the fast scorer."""
        try:
            scores, cut = await self._measure(request, sentences, draft)
        except ModelError as exc:
            self.fallbacks += 1
            why = f"the scorer {self.spec} failed for this record ({clip(str(exc), 160)}), after its retries"
            return scored_by_fast(request, sentences, draft, why)
        return Scored(scores, cut, self.spec)

    async def _measure(self, request: str, sentences: list[str], draft: str | None) -> tuple[list[SentenceScore], bool]:
        """The record's scores: the three contexts' requests all at once (a context that needs a cut first waits for it)."""
        if not sentences:
            return [], False
        jobs = [self._after_request(request, sentences), self._neutral_scores(sentences)]
        if draft is not None:
            jobs.append(self._after_draft(request, draft, sentences))
        (with_request, cut), neutral, *with_draft = await all_of(*jobs)
        return combine(sentences, with_request, neutral, with_draft[0] if with_draft else None, cut)

    async def _after_request(self, request: str, sentences: list[str]) -> tuple[list[tuple[float, int]], bool]:
        tail, cut = await self._tail(request, CONTEXT_TOKENS)
        return await self._logprobs(request, USER + tail + ASSISTANT, sentences), cut

    async def _after_draft(self, request: str, draft: str, sentences: list[str]) -> list[tuple[float, int]]:
        (asked, _), (said, _) = await all_of(self._tail(request, DRAFT_REQUEST_TOKENS), self._tail(draft, DRAFT_TOKENS))
        return await self._logprobs(f"{request}\0{draft}", USER + asked + ASSISTANT + said + REVISE, sentences)

    async def _neutral_scores(self, sentences: list[str]) -> list[tuple[float, int]]:
        """The sentences' log-probabilities after the neutral request, memoised per process (one request each)."""
        if len(self._neutral) + len(sentences) > NEUTRAL_KEPT:
            self._neutral.clear()
        context = USER + NEUTRAL_REQUEST + ASSISTANT
        for sentence in dict.fromkeys(sentences):
            if sentence not in self._neutral or _failed(self._neutral[sentence]):
                self._neutral[sentence] = _shared(self._logprobs(NEUTRAL_REQUEST, context, [sentence]))
        found = await all_of(*(asyncio.shield(self._neutral[s]) for s in sentences))
        return [scores[0] for scores in found]

    async def _logprobs(self, name: str, context: str, sentences: list[str]) -> list[tuple[float, int]]:
        """Each sentence's log-probability after `context` (named `name` in the cache) and its tokens: from the reply
        cache where it has them, the rest asked for at once and stored."""
        keys = [score_key(self._model_id, name, s) for s in sentences]
        found = [self._stored(key) for key in keys]
        missing = [i for i, hit in enumerate(found) if hit is None]
        for i, value in zip(missing, await all_of(*(self._sentence(context, sentences[i]) for i in missing))):
            found[i] = value
            if self.cache is not None:
                self.cache.put(keys[i], {"parsed": {"logprob": value[0], "tokens": value[1]}})
        return [hit for hit in found if hit is not None]

    def _stored(self, key: str) -> tuple[float, int] | None:
        hit = (self.cache.get(key) or {}).get("parsed") if self.cache is not None else None
        return (hit["logprob"], hit["tokens"]) if isinstance(hit, dict) and "logprob" in hit else None

    async def _sentence(self, context: str, sentence: str) -> tuple[float, int]:
        kept = echoed(await self._complete(context + sentence), len(sentence))[:SENTENCE_TOKENS]
        return sum(value for _, value in kept), len(kept)

    async def _tail(self, text: str, keep: int) -> tuple[str, bool]:
        """`text` cut to its last `keep` tokens, and whether it was cut. A text of `keep` bytes or fewer cannot be
        longer; another's token boundaries are asked of the server once, and the cut is kept in the reply cache."""
        if len(text.encode("utf-8", "replace")) <= keep:
            return text, False
        named = json.dumps(["tail", self._model_id, keep, text], ensure_ascii=False)
        key = "score-tail:" + hashlib.sha256(named.encode("utf-8", "surrogatepass")).hexdigest()
        hit = (self.cache.get(key) or {}).get("parsed") if self.cache is not None else None
        if not (isinstance(hit, dict) and "start" in hit):
            if text not in self._offsets or _failed(self._offsets[text]):
                if len(self._offsets) >= NEUTRAL_KEPT:
                    self._offsets.clear()
                self._offsets[text] = _shared(self._token_starts(text))
            starts = await asyncio.shield(self._offsets[text])
            hit = {"start": starts[-keep] if len(starts) > keep else 0, "cut": len(starts) > keep}
            if self.cache is not None:
                self.cache.put(key, {"parsed": hit})
        return text[hit["start"] :], bool(hit["cut"])

    async def _token_starts(self, text: str) -> list[int]:
        """Where each of `text`'s tokens starts, as the server tokenizes it after the template's USER part."""
        return [at for at, _ in echoed(await self._complete(USER + text), len(text))]

    async def _complete(self, prompt: str) -> dict:
        """One completions request through the call layer (rate limits, retries), within the concurrency."""
        async with self._slots:
            return await self.model.send(lambda: self.server.complete({"prompt": prompt, **ECHO}), len(prompt) // 4 + 1)
