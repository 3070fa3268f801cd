"""Every model call goes through here: cache, rate limits, the one retry layer, and cost.

Providers only translate requests and errors; retrying, pacing and caching are done once, here.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.http_errors import empty_reply, is_empty
from constitutional.models.secrets import Redactor, environment_redactor
from constitutional.pipeline.cache import ReplyCache, cache_key
from constitutional.pipeline.limits import RateLimiter
from constitutional.pipeline.pricing import Price

RETRY_WAIT_ENV = "CONSTITUTIONAL_RETRY_WAIT"


@dataclass
class RetryPolicy:
    max_retries: int = 4
    initial_wait: float = 1.0
    max_wait: float = 60.0

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.max_wait, self.initial_wait * 2 ** (state.attempt_number - 1))
        jittered = random.uniform(backoff / 2, backoff)  # jitter spreads out retries from many tasks
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return max(jittered, min(retry_after, self.max_wait))


@dataclass
class CallStats:
    attempts: int = 0  # requests sent to the provider, retries included
    cache_hits: int = 0
    retries: int = 0


@dataclass
class ManagedModel(ChatModel):
    inner: ChatModel
    cache: ReplyCache | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    price: Price | None = None
    stats: CallStats = field(default_factory=CallStats)
    endpoint: str | None = None  # the base URL: the same model name on two servers is two models
    redactor: Redactor = field(default_factory=environment_redactor)  # the configured API keys, cut out of replies

    @property
    def spec(self) -> str:  # type: ignore[override]
        return self.inner.spec

    @property
    def default_concurrency(self) -> int:  # type: ignore[override]
        return self.inner.default_concurrency

    async def generate(self, messages: list[Message], schema: dict | None = None, **params) -> Completion:
        """A reply from the cache or the provider, with any API key it echoes cut out: this is where replies enter
        the pipeline, so no record, cache entry, eval line, report or export ever holds a key."""
        key = None
        if self.cache is not None:
            key = self.cache_key(messages, schema, params)
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                cached = Completion(text=hit["text"], parsed=hit.get("parsed"), usage=Usage(cache_hits=1))
                return self.redactor.outcome(cached)  # stored by an older version, it may hold a key
        try:
            completion = self.redactor.outcome(await self._call_with_retries(messages, schema, params))
        except ModelError as exc:
            raise self.redactor.outcome(exc)  # an error's message is stored too
        if self.price is not None:
            completion.usage.cost_usd = self.price.cost(completion.usage)
        if key is not None:
            self.cache.put(key, {"text": completion.text, "parsed": completion.parsed})
        return completion

    def cache_key(self, messages: list[Message], schema: dict | None, params: dict) -> str:
        """The key this call's reply is cached under: the same model name on two servers is two models."""
        spec = self.inner.spec if self.endpoint is None else f"{self.inner.spec}@{self.endpoint}"
        return cache_key(spec, messages, schema, {"sample": 0, **params})

    async def _call_with_retries(self, messages: list[Message], schema: dict | None, params: dict) -> Completion:
        estimate = sum(len(m["content"]) for m in messages) // 4 + int(params.get("max_tokens") or 256)
        # The first attempt is made outside tenacity: most calls succeed at once, and its machinery costs
        # about a tenth of a call's CPU. A retryable failure is handed to tenacity as its first attempt.
        try:
            return await self._attempt(messages, schema, params, estimate)
        except ModelError as exc:
            if not exc.retryable or not self.retry.max_retries:
                raise
            first_failure: list[ModelError] = [exc]
        retrying = AsyncRetrying(
            stop=stop_after_attempt(1 + self.retry.max_retries),
            wait=self.retry.wait,
            retry=retry_if_exception(lambda e: isinstance(e, ModelError) and e.retryable),
            before_sleep=self._before_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if first_failure:
                    raise first_failure.pop()
                completion = await self._attempt(messages, schema, params, estimate)
        return completion

    async def _attempt(self, messages: list[Message], schema: dict | None, params: dict, estimate: int) -> Completion:
        await self.limiter.acquire(estimate)
        self.stats.attempts += 1
        completion = await self.inner.generate(messages, schema=schema, **params)
        used = completion.usage.input_tokens + completion.usage.output_tokens
        self.limiter.settle(estimate, used or estimate)
        if is_empty(completion.text, completion.parsed):
            raise empty_reply(self.spec)  # retried like a 5xx; the caller never sees (or caches) it
        return completion

    def _before_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        if getattr(exc, "retry_after", None):
            self.limiter.pause(min(exc.retry_after, self.retry.max_wait))

    async def aclose(self) -> None:
        await self.inner.aclose()
        if self.cache is not None:
            self.cache.close()


def managed_model(spec: str, *, cache: bool = True, cache_dir=None, rpm: float | None = None,
                  tpm: float | None = None, max_retries: int = 4, prices_path=None, **options) -> ManagedModel:
    """The provider for `spec`, wrapped with the cache, rate limits, retries and its price.

    CONSTITUTIONAL_RETRY_WAIT sets the first retry's wait in seconds (default 1; it doubles each retry).
    """
    from constitutional.models.registry import create_model
    from constitutional.pipeline.pricing import load_prices, price_for

    inner = create_model(spec, **options)
    return ManagedModel(
        inner=inner,
        cache=ReplyCache(cache_dir) if cache else None,
        limiter=RateLimiter(rpm, tpm),
        retry=RetryPolicy(max_retries=max_retries, initial_wait=float(os.environ.get(RETRY_WAIT_ENV) or 1.0)),
        price=price_for(spec, load_prices(prices_path)),
        endpoint=str(getattr(getattr(inner, "client", None), "base_url", "") or "") or None,
    )
