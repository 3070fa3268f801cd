import asyncio
import time

from constitutional.calls.limits import RateLimiter


def _times(limiter, n, tokens=1):
    stamps = []

    async def one():
        await limiter.acquire(tokens)
        stamps.append(time.monotonic())

    async def all_of_them():
        await asyncio.gather(*(one() for _ in range(n)))

    start = time.monotonic()
    asyncio.run(all_of_them())
    return [s - start for s in sorted(stamps)]


def test_request_rate_is_bounded():
    stamps = _times(RateLimiter(rpm=600), 25)  # 10 per second, bucket of 10
    # In any window of length w, at most capacity + rate * w requests start.
    for i, t in enumerate(stamps):
        in_window = sum(1 for s in stamps if t <= s < t + 1.0)
        assert in_window <= 10 + 10 * 1.0 + 1, (i, in_window)
    assert stamps[-1] >= 1.4  # 25 requests at 10/s with a bucket of 10 need about 1.5 s


def test_token_rate_is_bounded():
    stamps = _times(RateLimiter(tpm=60_000), 6, tokens=500)  # 1000 tokens/s, bucket 1000
    assert stamps[-1] >= 1.9  # 3000 tokens: 1000 at once, then 2000 at 1000/s


def test_no_limits_means_no_waiting():
    assert _times(RateLimiter(), 200)[-1] < 0.2


def test_settle_corrects_the_estimate():
    limiter = RateLimiter(tpm=60_000)
    limiter.tokens.level = 0
    limiter.settle(estimated=500, actual=100)
    assert 399 <= limiter.tokens.level <= 420
