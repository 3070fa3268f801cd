"""Every model call goes through here: cache, rate limits, the one retry layer, and cost.

Providers only translate requests and errors; retrying, pacing and caching are done once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from constitutional.calls.cache import ReplyCache, cache_key
from constitutional.calls.limits import RateLimiter
from constitutional.calls.retry import RetryPolicy
from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.http_errors import DEFAULT_MAX_REPLY_BYTES, empty_reply, is_empty, reply_too_large
from constitutional.models.secrets import Redactor, environment_redactor

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from constitutional.calls.batch import Batcher
    from constitutional.calls.pricing import Price
    from constitutional.models.base import Capabilities

T = TypeVar("T")


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
    concurrency: int | None = None  # calls in flight at once (None: the provider's default)
    redactor: Redactor = field(default_factory=environment_redactor)  # the configured API keys, cut out of replies
    batcher: Batcher | None = None  # requests go in provider batches, at the batch price (calls/batch.py attach_batcher)
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES  # HTTP providers stop reading there; any other reply is checked here

    @property
    def spec(self) -> str:  # type: ignore[override]
        return self.inner.spec

    @property
    def default_concurrency(self) -> int:  # type: ignore[override]
        if self.batcher is not None:
            return self.batcher.concurrency
        return self.concurrency or self.inner.default_concurrency

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return self.inner.capabilities

    @property
    def structured_reasks(self) -> int:  # type: ignore[override]
        return self.retry.reasks

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        """A reply from the cache or the provider, with any API key it echoes cut out: this is where replies enter
        the pipeline, so no record, cache entry, eval line, report or export ever holds a key."""
        # The key names the call in the cache and, sent in a batch, in batches.json: made once for both.
        key = self.cache_key(messages, schema, params) if self.cache is not None or self.batcher is not None else ""
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                cached = Completion(text=hit["text"], usage=Usage(cache_hits=1))  # an older version stored "parsed" too
                return self.redactor.outcome(cached)  # stored by an older version, it may hold a key
        try:
            completion = self.redactor.outcome(await self._call_with_retries(messages, schema, params, key))
        except ModelError as exc:
            self.redactor.outcome(exc)  # in place: an error's message is stored too
            raise
        if self.price is not None:
            completion.usage.cost_usd = self.price.cost(completion.usage, batched=self.batcher is not None)
        if self.cache is not None:
            self.cache.put(key, {"text": completion.text})
        return completion

    def cache_key(self, messages: list[Message], schema: dict | None, params: dict) -> str:
        """The key this call's reply is cached under: the same model name on two servers is two models."""
        spec = self.inner.spec if self.endpoint is None else f"{self.inner.spec}@{self.endpoint}"
        return cache_key(spec, messages, schema, {"sample": 0, **params})

    async def _call_with_retries(self, messages: list[Message], schema: dict | None, params: dict, key: str) -> Completion:
        estimate = sum(len(m["content"]) for m in messages) // 4 + int(params.get("max_tokens") or 256)
        return await self.retry.run(lambda: self._attempt(messages, schema, params, estimate, key), self._before_retry)

    async def _attempt(self, messages: list[Message], schema: dict | None, params: dict, estimate: int, key: str) -> Completion:
        """One request to the provider (or to its batch, under `key`): through the rate limiter, and counted."""
        await self.limiter.acquire(estimate)
        self.stats.attempts += 1
        if self.batcher is not None:
            completion = await self.batcher.send(key, messages, schema, params)
        else:
            completion = await self.inner.generate(messages, schema=schema, **params)
        used = completion.usage.input_tokens + completion.usage.output_tokens
        self.limiter.settle(estimate, used or estimate)
        if is_empty(completion.text):
            raise empty_reply(self.spec)  # retried like a 5xx; the caller never sees (or caches) it
        if (
            len(completion.text) * 4 > self.max_reply_bytes
            and len(completion.text.encode("utf-8", "replace")) > self.max_reply_bytes
        ):
            raise reply_too_large(self.spec, self.max_reply_bytes)  # a batch result, a LangChain model's: not retried
        return completion

    async def send(self, request: Callable[[], Awaitable[T]], estimate: int) -> T:
        """`request()`, a call to the provider other than a chat reply (the server scorer's text completions), made
        as every call is: through this endpoint's rate limiter (`estimate` tokens) and the one retry policy, and
        counted in `stats`. Its caller caches what it makes of the reply, and bounds how many are in flight."""

        async def attempt() -> T:
            await self.limiter.acquire(estimate)
            self.stats.attempts += 1
            return await request()

        return await self.retry.run(attempt, self._before_retry)

    def _before_retry(self, exc: ModelError) -> None:
        self.stats.retries += 1
        if exc.retry_after:
            self.limiter.pause(min(exc.retry_after, self.retry.max_wait))

    async def aclose(self) -> None:
        """Close the provider's connections; the reply cache is the factory's (`Calls.close`), shared by every role."""
        await self.inner.aclose()
