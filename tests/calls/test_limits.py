import asyncio

import pytest

from constitutional.calls import limits
from constitutional.calls.limits import RateLimiter
from tests.clock import FakeClock


@pytest.fixture
def clock(monkeypatch):
    return FakeClock().install(monkeypatch, limits)


def _starts(clock, limiter, n, tokens=1):
    """When each of `n` concurrent requests got through the limiter, in seconds of the fake clock from the start."""
    stamps = []

    async def one():
        await limiter.acquire(tokens)
        stamps.append(clock.elapsed())

    async def all_of_them():
        await asyncio.gather(*(one() for _ in range(n)))

    asyncio.run(all_of_them())
    return sorted(stamps)


def test_request_rate_is_bounded(clock):
    stamps = _starts(clock, RateLimiter(rpm=600), 25)  # 10 per second, bucket of 10
    # A burst of the bucket's 10 at once, then one every 0.1 s: 25 requests take 1.5 s.
    assert stamps == pytest.approx([0.0] * 10 + [0.1 * k for k in range(1, 16)])
    for t in stamps:  # in any window of length w, at most capacity + rate * w requests start
        assert sum(1 for s in stamps if t <= s < t + 1.0) <= 10 + 10 * 1.0 + 1


def test_token_rate_is_bounded(clock):
    stamps = _starts(clock, RateLimiter(tpm=60_000), 6, tokens=500)  # 1000 tokens/s, bucket 1000
    assert stamps == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5, 2.0])  # 1000 tokens at once, then 500 every 0.5 s


def test_no_limits_means_no_waiting(clock):
    assert _starts(clock, RateLimiter(), 200) == [0.0] * 200
    assert clock.sleeps == []


def test_a_pause_holds_the_next_request_until_it_ends(clock):
    limiter = RateLimiter()
    limiter.pause(2.5)
    assert _starts(clock, limiter, 3) == pytest.approx([2.5] * 3)
    assert clock.sleeps == pytest.approx([2.5])  # the first waits out the pause; the others queue behind it


def test_settle_corrects_the_estimate(clock):
    limiter = RateLimiter(tpm=60_000)
    limiter.tokens.level = 0
    limiter.settle(estimated=500, actual=100)
    assert limiter.tokens.level == 400
    limiter.settle(estimated=100, actual=300)
    assert limiter.tokens.level == 200
