import asyncio

import pytest

from constitutional.calls import limits, retry
from constitutional.calls.cache import ReplyCache, cache_key, canonical_json
from constitutional.calls.limits import RateLimiter
from constitutional.calls.managed import ManagedModel
from constitutional.calls.pricing import Price, load_prices, price_for
from constitutional.calls.retry import RetryPolicy
from constitutional.models.base import ChatModel, Completion, ModelError, Usage
from constitutional.settings import RETRY_WAIT_ENV
from tests.clock import FakeClock
from tests.helpers import DATA

MESSAGES = [{"role": "user", "content": "hi"}]


class Flaky(ChatModel):
    """Fails with the given errors, in order, then answers."""

    spec = "flaky"

    def __init__(self, errors=()):
        self.errors = list(errors)
        self.calls = 0

    async def generate(self, messages, schema=None, **params):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return Completion("answer", usage=Usage(calls=1, input_tokens=1_000_000, output_tokens=500_000))


def managed(inner, **kw):
    kw.setdefault("retry", RetryPolicy(max_retries=3, initial_wait=0.001, max_wait=0.05))
    return ManagedModel(inner=inner, **kw)


def test_retryable_errors_are_retried_with_bounded_attempts():
    inner = Flaky([ModelError("429", retryable=True, status=429), ModelError("503", retryable=True, status=503)])
    model = managed(inner)
    assert asyncio.run(model.generate(MESSAGES)).text == "answer"
    assert inner.calls == 3 and model.stats.retries == 2 and model.stats.attempts == 3


def test_attempts_never_exceed_one_plus_max_retries():
    inner = Flaky([ModelError("500", retryable=True, status=500)] * 10)
    model = managed(inner)
    with pytest.raises(ModelError, match="500"):
        asyncio.run(model.generate(MESSAGES))
    assert inner.calls == 4  # 1 + max_retries


def test_non_retryable_errors_fail_fast():
    inner = Flaky([ModelError("invalid api key", retryable=False, status=401)])
    with pytest.raises(ModelError, match="invalid api key"):
        asyncio.run(managed(inner).generate(MESSAGES))
    assert inner.calls == 1


def test_backoff_grows_and_honours_retry_after():
    policy = RetryPolicy(max_retries=5, initial_wait=1.0, max_wait=8.0)
    plain = ModelError("x", retryable=True)
    waits = [policy.delay(n, plain) for n in range(1, 6)]
    assert 0.5 <= waits[0] <= 1.0 and 4.0 <= waits[4] <= 8.0  # exponential, jittered, capped
    told = ModelError("x", retryable=True, retry_after=6.0)
    assert policy.delay(1, told) >= 6.0


def test_the_policy_sleeps_the_growing_backoff_between_attempts(monkeypatch):
    clock = FakeClock().install(monkeypatch, retry)
    policy = RetryPolicy(max_retries=5, initial_wait=1.0, max_wait=8.0)

    async def always_failing():
        raise ModelError("x", retryable=True)

    with pytest.raises(ModelError):
        asyncio.run(policy.run(always_failing))
    assert len(clock.sleeps) == 5  # one wait before each retry, none after the last failure
    for wait, backoff in zip(clock.sleeps, [1.0, 2.0, 4.0, 8.0, 8.0]):  # doubling, capped at max_wait, jittered
        assert backoff / 2 <= wait <= backoff


class Stamped(Flaky):
    """Flaky, noting the clock's time of each request it receives."""

    def __init__(self, clock, errors=()):
        super().__init__(errors)
        self.clock, self.sent_at = clock, []

    async def generate(self, messages, schema=None, **params):
        self.sent_at.append(self.clock.elapsed())
        return await super().generate(messages, schema=schema, **params)


def test_retry_after_pauses_every_caller(monkeypatch):
    clock = FakeClock().install(monkeypatch, limits, retry)
    inner = Stamped(clock, [ModelError("429", retryable=True, status=429, retry_after=0.3)])
    model = managed(inner, retry=RetryPolicy(max_retries=2, initial_wait=0.001, max_wait=1.0))

    async def two_callers():  # the second asks while the first waits out the retry-after it was told
        return await asyncio.gather(model.generate(MESSAGES), model.generate([{"role": "user", "content": "other"}]))

    assert [c.text for c in asyncio.run(two_callers())] == ["answer", "answer"]
    # The first request fails at 0 s; the other caller's request and the retry both go once the 0.3 s are up.
    assert inner.sent_at == pytest.approx([0.0, 0.3, 0.3])
    assert clock.sleeps == pytest.approx([0.3, 0.3])  # the retry's wait (not its 1 ms backoff) and the other caller's
    assert model.stats.retries == 1 and model.limiter.paused_until == pytest.approx(clock.start + 0.3)


def test_cache_serves_repeats_without_calls_or_limiter_capacity(tmp_path, monkeypatch):
    clock = FakeClock().install(monkeypatch, limits, retry)
    inner = Flaky()
    limiter = RateLimiter(rpm=60)  # one request per second: a second request would wait 1 s
    model = managed(inner, cache=ReplyCache(tmp_path), limiter=limiter)

    async def many():
        first = await model.generate(MESSAGES, max_tokens=5)
        again = [await model.generate(MESSAGES, max_tokens=5) for _ in range(20)]
        return first, again

    first, again = asyncio.run(many())
    assert inner.calls == 1 and model.stats.cache_hits == 20
    assert clock.sleeps == [] and limiter.requests.level == 0  # no hit waited for, or took, the limiter's capacity
    assert all(c.text == "answer" and c.usage.calls == 0 and c.usage.cache_hits == 1 for c in again)
    assert first.usage.calls == 1


def test_cache_key_is_canonical_and_covers_what_decides_a_reply():
    a = cache_key("s", MESSAGES, {"type": "object", "a": 1}, {"t": 0, "m": 5})
    assert a == cache_key("s", MESSAGES, {"a": 1, "type": "object"}, {"m": 5, "t": 0})
    assert a != cache_key("s2", MESSAGES, {"type": "object", "a": 1}, {"t": 0, "m": 5})
    assert a != cache_key("s", MESSAGES, None, {"t": 0, "m": 5})
    assert a != cache_key("s", MESSAGES, {"type": "object", "a": 1}, {"t": 0, "m": 6})
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{"a":[1,{"c":3,"d":2}],"b":1}'


def test_cache_is_shared_between_connections(tmp_path):
    one, two = ReplyCache(tmp_path), ReplyCache(tmp_path)
    one.put("k", {"text": "x"})
    assert two.get("k") == {"text": "x"} and two.get("missing") is None


def test_cost_comes_from_the_price_table(tmp_path):
    model = managed(Flaky(), price=Price(input=2.0, output=10.0))
    completion = asyncio.run(model.generate(MESSAGES))
    assert completion.usage.cost_usd == pytest.approx(2.0 + 5.0)
    prices = tmp_path / "prices.yaml"
    prices.write_text("my-model: {input: 1, output: 2}\ngpt-4o-mini: {input: 9, output: 9}\n")
    table = load_prices(prices)
    assert price_for("openai/my-model", table) == Price(1, 2)
    assert price_for("openai/gpt-4o-mini", table).input == 9  # the user's file overrides the built-in table
    assert price_for("local", table).input == 0 and price_for("openai/unknown", table) is None
    cached = Price(input=1.0, output=0.0, cached_input=0.1)
    assert cached.cost(Usage(input_tokens=1_000_000, cached_tokens=500_000)) == pytest.approx(0.55)


def test_concurrent_writer_processes_share_the_cache_safely(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\nfrom pathlib import Path\nfrom constitutional.calls.cache import ReplyCache\n"
        "c = ReplyCache(Path(sys.argv[1]))\n"
        "for i in range(150):\n    c.put(f'{sys.argv[2]}-{i}', {'text': str(i)}); c.get(f'0-{i}')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(w)]) for w in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    cache = ReplyCache(tmp_path)
    assert all(cache.get(f"{w}-{i}") == {"text": str(i)} for w in range(4) for i in range(150))


def test_the_same_model_name_on_two_servers_does_not_share_cached_replies(tmp_path):
    cache = ReplyCache(tmp_path)
    one = managed(Flaky(), cache=cache, endpoint="http://127.0.0.1:1/v1")
    two = managed(Flaky(), cache=cache, endpoint="http://127.0.0.1:2/v1")
    asyncio.run(one.generate(MESSAGES))
    asyncio.run(two.generate(MESSAGES))
    assert one.inner.calls == 1 and two.inner.calls == 1
    asyncio.run(managed(Flaky(), cache=cache, endpoint="http://127.0.0.1:2/v1").generate(MESSAGES))
    assert two.stats.cache_hits == 0


def test_the_factory_takes_the_endpoint_from_the_provider_client(tmp_path):
    from constitutional.calls.factory import Calls, call_settings

    calls = Calls(call_settings(cache_dir=tmp_path, base_url="http://127.0.0.1:9/v1"))
    assert calls.model("openai/m").endpoint.startswith("http://127.0.0.1:9/v1")
    replies = tmp_path / "x.yaml"
    replies.write_text("rules: []")
    assert calls.model(f"scripted:{replies}", strict=False).endpoint is None
    calls.close()


def test_the_policy_sends_a_resend_again_at_once_without_counting_it_as_a_retry(monkeypatch):
    clock = FakeClock().install(monkeypatch, limits, retry)
    inner = Flaky([ModelError("mode refused", resend=True), ModelError("mode refused", resend=True)])
    model = managed(inner, retry=RetryPolicy(max_retries=0, initial_wait=10.0))  # a retry would wait 5-10 s
    assert asyncio.run(model.generate(MESSAGES)).text == "answer"
    assert inner.calls == 3 and clock.sleeps == []  # sent three times, with no wait between
    assert model.stats.attempts == 3 and model.stats.retries == 0


def test_the_policy_serves_any_coroutine_and_raises_the_last_failure():
    policy = RetryPolicy(max_retries=2, initial_wait=0.001, max_wait=0.01)
    seen = []

    async def attempt():
        seen.append(len(seen))
        raise ModelError(f"failure {len(seen)}", retryable=True)

    retried = []
    with pytest.raises(ModelError, match="failure 3"):
        asyncio.run(policy.run(attempt, retried.append))
    assert seen == [0, 1, 2] and [str(e) for e in retried] == ["failure 1", "failure 2"]
    from constitutional.calls.factory import Calls, call_settings

    made = Calls(call_settings(max_retries=3, reasks=2, cache=False)).model("scripted:" + str(DATA / "scripted_basic.yaml"))
    assert (made.retry.max_retries, made.retry.reasks) == (3, 2)


def test_the_settings_take_the_first_retry_wait_from_the_environment(monkeypatch):
    from constitutional.calls.factory import call_settings

    monkeypatch.delenv(RETRY_WAIT_ENV)
    assert call_settings().retry_wait == 1.0
    monkeypatch.setenv(RETRY_WAIT_ENV, "0.25")
    assert call_settings().retry_wait == 0.25
