"""The batch executor on the providers' public seams and the one retry policy."""

import asyncio
import importlib.util

import pytest

from constitutional.calls.batch import Polled, Waves, batch_api, has_batch_api
from constitutional.calls.batch_log import BatchLog
from constitutional.calls.managed import CallStats
from constitutional.calls.request import Call
from constitutional.calls.retry import RetryPolicy
from constitutional.errors import UserError
from constitutional.models import create_model
from constitutional.models.base import ChatCall, ModelError

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
CALL = Call("critique", [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], 64, SCHEMA)


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")


def test_the_twin_that_patched_send_is_gone():
    assert importlib.util.find_spec("constitutional.pipeline.executors.provider_io") is None


@pytest.mark.parametrize("spec", ["openai/m", "anthropic/m"])
def test_batch_entries_are_the_providers_own_requests(spec):
    model = create_model(spec, base_url="http://127.0.0.1:9/v1")
    api = batch_api(model)
    entry = api.entry("w0-0", CALL)
    call = ChatCall(CALL.messages, CALL.schema, {"max_tokens": 64})
    if spec.startswith("openai"):
        assert entry["body"] == model.build_request(call, "json_schema") and entry["url"] == "/v1/chat/completions"
    else:
        assert entry["params"] == create_model(spec, base_url="http://127.0.0.1:9/v1").build_request(call)


def test_an_openai_batch_stays_on_strict_json_schema_whatever_mode_the_server_fell_back_to():
    from constitutional.models import openai_provider

    model = create_model("openai/m", base_url="http://127.0.0.1:9/fell-back")
    model._modes.mode = "json_object"  # as if synchronous calls to this server had fallen back
    try:
        body = batch_api(model).entry("w0-0", CALL)["body"]
    finally:
        openai_provider._modes.pop(str(model.client.base_url), None)
    assert body["response_format"]["type"] == "json_schema"


def test_which_providers_have_a_batch_api_is_declared_on_the_provider(tmp_path):
    assert has_batch_api("openai/m") and has_batch_api("anthropic/m")
    assert not has_batch_api("local") and not has_batch_api(f"scripted:{tmp_path / 'x.yaml'}")
    assert not has_batch_api("langchain:tests.models.fake_chat:chat")


class FlakyAPI:
    """A batch API whose polls fail retryably the first `failures` times."""

    max_requests, max_bytes = 10, 10_000

    def __init__(self, failures):
        self.failures = failures
        self.polls = 0

    async def poll(self, batch_id):
        self.polls += 1
        if self.polls <= self.failures:
            raise ModelError("overloaded", retryable=True, status=529)
        return Polled(True, "ended")


def waves(api, tmp_path, policy):
    log = BatchLog.start(tmp_path / "batches.json", "openai/m", [])
    return Waves(api, log, lambda line: None, 0.001, CallStats(), policy)


@pytest.mark.parametrize(("max_retries", "failures", "polls", "ok"), [(2, 2, 3, True), (1, 2, 2, False), (0, 1, 1, False)])
def test_batch_api_calls_follow_the_runs_retry_policy(tmp_path, max_retries, failures, polls, ok):
    api = FlakyAPI(failures)
    policy = RetryPolicy(max_retries=max_retries, initial_wait=0.001, max_wait=0.01)
    run = waves(api, tmp_path, policy)
    if ok:
        assert asyncio.run(run._provider(api.poll, "b")).ended
    else:
        with pytest.raises(UserError, match="overloaded"):
            asyncio.run(run._provider(api.poll, "b"))
    assert api.polls == polls  # 1 + max_retries at most: no fixed count of its own
