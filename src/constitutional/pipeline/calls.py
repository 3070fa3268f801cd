"""Every model call goes through here: cache, rate limits, the one retry layer, and cost.

Providers only translate requests and errors; retrying, pacing and caching are done once, here.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.http_errors import empty_reply, is_empty
from constitutional.models.secrets import Redactor, environment_redactor
from constitutional.pipeline.cache import ReplyCache, cache_key
from constitutional.pipeline.limits import RateLimiter

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from constitutional.models.base import Capabilities
    from constitutional.pipeline.pricing import Price

RETRY_WAIT_ENV = "CONSTITUTIONAL_RETRY_WAIT"
MAX_RESENDS = 4  # a provider that refuses a structured mode moves to the next; it has few
T = TypeVar("T")


@dataclass
class RetryPolicy:
    """The one retry policy, for every model call and every batch API call (create, poll, fetch).

    `run` makes the first attempt with a plain await (most calls succeed at once, and the policy costs
    nothing then); a ModelError marked `retryable` is tried again, up to `max_retries` times, after
    exponential backoff with jitter or the server's retry-after, whichever is longer. One marked `resend`
    (the provider changed what it sends) goes again at once, and is not a retry. Whether an HTTP status or
    error is retryable is decided once, in models/http_errors.py. `reasks` is how many times a structured
    reply that does not validate is asked for again (models/structured.py).
    """

    max_retries: int = 4
    initial_wait: float = 1.0
    max_wait: float = 60.0
    reasks: int = 1

    @classmethod
    def from_settings(cls, max_retries: int = 4, reasks: int = 1) -> RetryPolicy:
        """The policy of --max-retries, with the first wait from CONSTITUTIONAL_RETRY_WAIT (default 1 s)."""
        return cls(max_retries=max_retries, initial_wait=float(os.environ.get(RETRY_WAIT_ENV) or 1.0), reasks=reasks)

    def delay(self, retry: int, exc: BaseException | None = None) -> float:
        """Seconds to wait before the `retry`th retry (1, 2, ...) after the failure `exc`."""
        backoff = min(self.max_wait, self.initial_wait * 2 ** (retry - 1))
        jittered = random.uniform(backoff / 2, backoff)  # jitter spreads out retries from many tasks
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return max(jittered, min(retry_after, self.max_wait))

    async def run(self, attempt: Callable[[], Awaitable[T]], on_retry: Callable[[ModelError], None] = lambda exc: None) -> T:
        """`attempt()`'s result, tried again as this policy says; the last failure is raised."""
        try:
            return await attempt()
        except ModelError as exc:
            failure = exc
        retries = resends = 0
        while True:
            if failure.resend and resends < MAX_RESENDS:
                resends += 1
            elif failure.retryable and retries < self.max_retries:
                retries += 1
                on_retry(failure)
                await asyncio.sleep(self.delay(retries, failure))
            else:
                raise failure
            try:
                return await attempt()
            except ModelError as exc:
                failure = exc


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

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return self.inner.capabilities

    @property
    def structured_reasks(self) -> int:  # type: ignore[override]
        return self.retry.reasks

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        """A reply from the cache or the provider, with any API key it echoes cut out: this is where replies enter
        the pipeline, so no record, cache entry, eval line, report or export ever holds a key."""
        key = None
        if self.cache is not None:
            key = self.cache_key(messages, schema, params)
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                cached = Completion(text=hit["text"], usage=Usage(cache_hits=1))  # an older version stored "parsed" too
                return self.redactor.outcome(cached)  # stored by an older version, it may hold a key
        try:
            completion = self.redactor.outcome(await self._call_with_retries(messages, schema, params))
        except ModelError as exc:
            self.redactor.outcome(exc)  # in place: an error's message is stored too
            raise
        if self.price is not None:
            completion.usage.cost_usd = self.price.cost(completion.usage)
        if self.cache is not None and key is not None:  # key is set exactly when there is a cache
            self.cache.put(key, {"text": completion.text})
        return completion

    def cache_key(self, messages: list[Message], schema: dict | None, params: dict) -> str:
        """The key this call's reply is cached under: the same model name on two servers is two models."""
        spec = self.inner.spec if self.endpoint is None else f"{self.inner.spec}@{self.endpoint}"
        return cache_key(spec, messages, schema, {"sample": 0, **params})

    async def _call_with_retries(self, messages: list[Message], schema: dict | None, params: dict) -> Completion:
        estimate = sum(len(m["content"]) for m in messages) // 4 + int(params.get("max_tokens") or 256)
        return await self.retry.run(lambda: self._attempt(messages, schema, params, estimate), self._before_retry)

    async def _attempt(self, messages: list[Message], schema: dict | None, params: dict, estimate: int) -> Completion:
        """One request to the provider: through the rate limiter, and counted."""
        await self.limiter.acquire(estimate)
        self.stats.attempts += 1
        completion = await self.inner.generate(messages, schema=schema, **params)
        used = completion.usage.input_tokens + completion.usage.output_tokens
        self.limiter.settle(estimate, used or estimate)
        if is_empty(completion.text):
            raise empty_reply(self.spec)  # retried like a 5xx; the caller never sees (or caches) it
        return completion

    def _before_retry(self, exc: ModelError) -> None:
        self.stats.retries += 1
        if exc.retry_after:
            self.limiter.pause(min(exc.retry_after, self.retry.max_wait))

    async def aclose(self) -> None:
        await self.inner.aclose()
        if self.cache is not None:
            self.cache.close()


def managed_model(
    spec: str,
    *,
    cache: bool = True,
    cache_dir: Path | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    max_retries: int = 4,
    reasks: int = 1,
    prices_path: Path | None = None,
    **options: Any,
) -> ManagedModel:
    """The provider for `spec`, wrapped with the cache, rate limits, retries (RetryPolicy.from_settings) and its price."""
    from constitutional.models.registry import create_model
    from constitutional.pipeline.pricing import load_prices, price_for

    inner = create_model(spec, **options)
    return ManagedModel(
        inner=inner,
        cache=ReplyCache(cache_dir) if cache else None,
        limiter=RateLimiter(rpm, tpm),
        retry=RetryPolicy.from_settings(max_retries, reasks),
        price=price_for(spec, load_prices(prices_path)),
        endpoint=str(getattr(getattr(inner, "client", None), "base_url", "") or "") or None,
    )
