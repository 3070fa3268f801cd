"""Request and token rate limits as token buckets, plus a shared pause when a server says retry-after."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Holds up to `capacity` units, refilled at `rate` units per second. `take` waits until it can."""

    def __init__(self, rate: float, capacity: float):
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, amount: float) -> float:
        self._refill()
        # A request larger than the bucket may go once the bucket is full, so it is never stuck.
        needed = min(amount, self.capacity) - self.level
        return max(0.0, needed / self.rate)

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def give_back(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """Bounds requests per minute and tokens per minute across every task of one process."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None):
        # One second's worth of capacity: smooth pacing instead of a burst of a full minute's quota.
        self.requests = TokenBucket(rpm / 60, max(1.0, rpm / 60)) if rpm else None
        self.tokens = TokenBucket(tpm / 60, max(1.0, tpm / 60)) if tpm else None
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, tokens: int) -> None:
        if self.requests is None and self.tokens is None and not self._lock.locked() and self.paused_until <= time.monotonic():
            return  # no limits and no pause: nothing to wait for
        async with self._lock:  # first come, first served
            while True:
                wait = max(
                    self.paused_until - time.monotonic(),
                    self.requests.wait_time(1) if self.requests else 0.0,
                    self.tokens.wait_time(tokens) if self.tokens else 0.0,
                )
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests:
                self.requests.take(1)
            if self.tokens:
                self.tokens.take(tokens)

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token bucket once a call's real token count is known."""
        if self.tokens and actual != estimated:
            if actual > estimated:
                self.tokens.take(actual - estimated)
            else:
                self.tokens.give_back(estimated - actual)

    def pause(self, seconds: float) -> None:
        """A server said retry-after: hold every caller, not only the one that was told."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
