"""The one retry policy, for every model call and every batch API call."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from constitutional.models.base import ModelError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

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
