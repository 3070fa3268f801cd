"""The batch transport on its seams: the providers' own requests, the one retry policy, the managed model's rules for a
batched call, and DIR/batches.json."""

import asyncio
import json
import re

import pytest

from constitutional.calls import batch as batch_transport
from constitutional.calls.batch import Batcher, Polled, batch_api, has_batch_api
from constitutional.calls.batch_log import BatchLog
from constitutional.calls.managed import ManagedModel
from constitutional.calls.pricing import Price
from constitutional.calls.retry import RetryPolicy
from constitutional.errors import UserError
from constitutional.models import create_model
from constitutional.models.base import ChatCall, ChatModel, Completion, ModelError, Usage

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
CALL = ChatCall([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], SCHEMA, {"max_tokens": 64})
KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    monkeypatch.setattr(batch_transport, "QUIET", 0.01)
    monkeypatch.setenv("CONSTITUTIONAL_BATCH_POLL_SECONDS", "0.001")


@pytest.mark.parametrize("spec", ["openai/m", "anthropic/m"])
def test_batch_entries_are_the_providers_own_requests(spec):
    model = create_model(spec, base_url="http://127.0.0.1:9/v1")
    entry = batch_api(model).entry("3f2a", CALL)
    if spec.startswith("openai"):
        assert entry["body"] == model.build_request(CALL, "json_schema") and entry["url"] == "/v1/chat/completions"
    else:
        assert entry["params"] == create_model(spec, base_url="http://127.0.0.1:9/v1").build_request(CALL)


def test_an_openai_batch_stays_on_strict_json_schema_whatever_mode_the_server_fell_back_to():
    from constitutional.models import openai_provider

    model = create_model("openai/m", base_url="http://127.0.0.1:9/fell-back")
    model._modes.mode = "json_object"  # as if synchronous calls to this server had fallen back
    try:
        body = batch_api(model).entry("3f2a", CALL)["body"]
    finally:
        openai_provider._modes.pop(str(model.client.base_url), None)
    assert body["response_format"]["type"] == "json_schema"


def test_which_providers_have_a_batch_api_is_declared_on_the_provider(tmp_path):
    assert has_batch_api("openai/m") and has_batch_api("anthropic/m")
    assert not has_batch_api("local") and not has_batch_api(f"scripted:{tmp_path / 'x.yaml'}")
    assert not has_batch_api("langchain:tests.models.fake_chat:chat")


class FakeBatches:
    """A batch API in memory: each batch ends at its first poll, and `reply(messages)` answers each request (a
    Completion, or a ModelError for a failed request)."""

    max_requests, max_bytes = 100, 1_000_000

    def __init__(self, reply=lambda messages: Completion("fine", Usage(calls=1, input_tokens=10, output_tokens=10))):
        self.reply = reply
        self.submitted: list[list[str]] = []
        self.outcomes: dict[str, dict] = {}
        self.poll_failures = 0
        self.polls = 0
        self.ended = ["ended"]  # the status each batch ends with, in turn (the last one for the rest)
        self.without_results: set[str] = set()  # batches that end with no result for any request

    def entry(self, custom_id, call):
        return {"custom_id": custom_id, "messages": call.messages}

    async def submit(self, entries, progress, save):
        batch_id = f"b{len(self.submitted)}"
        self.submitted.append([e["custom_id"] for e in entries])
        self.outcomes[batch_id] = {e["custom_id"]: self.reply(e["messages"]) for e in entries}
        return batch_id

    async def recover(self, progress):
        return None

    async def poll(self, batch_id):
        self.polls += 1
        if self.polls <= self.poll_failures:
            raise ModelError("overloaded", retryable=True, status=529)
        return Polled(True, self.ended[min(int(batch_id[1:]), len(self.ended) - 1)])

    async def results(self, batch_id):
        return {} if batch_id in self.without_results else dict(self.outcomes[batch_id])


class Unused(ChatModel):
    spec = "openai/m"

    async def generate(self, messages, schema=None, **params):
        raise AssertionError("a batched model sends nothing at once")


def batched(api, tmp_path, policy=None, **model_options):
    """A managed model whose requests go through `api`, its batches saved in tmp_path/batches.json."""
    policy = policy or RetryPolicy(max_retries=2, initial_wait=0.001, max_wait=0.01)
    model = ManagedModel(inner=Unused(), retry=policy, **model_options)
    model.batcher = Batcher(api, BatchLog(tmp_path / "batches.json", "model"), lambda line: None, policy)
    return model


def ask(model, *texts):
    """`model`'s replies to the user messages `texts`, all asked at once."""

    async def run():
        return await asyncio.gather(*(model.generate([{"role": "user", "content": t}], max_tokens=8) for t in texts))

    return asyncio.run(run())


@pytest.mark.parametrize(("max_retries", "failures", "polls", "ok"), [(2, 2, 3, True), (1, 2, 2, False), (0, 1, 1, False)])
def test_batch_api_calls_follow_the_runs_retry_policy(tmp_path, max_retries, failures, polls, ok):
    api = FakeBatches()
    api.poll_failures = failures
    model = batched(api, tmp_path, RetryPolicy(max_retries=max_retries, initial_wait=0.001, max_wait=0.01))
    if ok:
        assert [c.text for c in ask(model, "a")] == ["fine"]
    else:
        with pytest.raises(UserError, match="overloaded"):
            ask(model, "a")
    assert api.polls == polls  # 1 + max_retries at most: no fixed count of its own


def test_requests_made_together_go_in_one_batch_and_identical_ones_share_an_entry(tmp_path):
    api = FakeBatches()
    model = batched(api, tmp_path, price=Price(input=1.0, output=1.0))
    first, second, other = ask(model, "same", "same", "other")
    assert len(api.submitted) == 1 and len(api.submitted[0]) == 2  # "same" once
    assert first.text == second.text == other.text == "fine"
    assert first.usage.calls == 1 and first.usage.cost_usd == pytest.approx(20 / 1e6 / 2)  # at the batch price
    assert second.usage.calls == 0 and second.usage.cache_hits == 1 and second.usage.cost_usd == 0  # paid once


def test_a_custom_id_is_the_reply_cache_key_within_the_providers_limits(tmp_path):
    api = FakeBatches()
    model = batched(api, tmp_path)
    ask(model, "a")
    key = model.cache_key([{"role": "user", "content": "a"}], None, {"max_tokens": 8})
    assert api.submitted == [[key]] and re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", key)  # Anthropic's rule is the strictest
    saved = json.loads((tmp_path / "batches.json").read_text())["roles"]["model"]
    assert [(b["id"], b["status"], b["custom_ids"]) for b in saved] == [("b0", "fetched", [key])]


def test_a_stage_larger_than_the_providers_bytes_is_split(tmp_path):
    api = FakeBatches()
    entry_bytes = len(json.dumps(api.entry("x" * 64, ChatCall([{"role": "user", "content": "q0"}]))).encode()) + 1
    api.max_bytes = 2 * entry_bytes
    ask(batched(api, tmp_path), "q0", "q1", "q2", "q3", "q4")
    assert [len(ids) for ids in api.submitted] == [2, 2, 1]


def test_a_batched_reply_gets_the_managed_models_rules(tmp_path):
    """An empty reply is retried (in the next batch), and a key echoed in a reply is cut out."""
    replies = iter(["  ", f"the key is {KEY}"])
    api = FakeBatches(lambda messages: Completion(next(replies), Usage(calls=1)))
    model = batched(api, tmp_path)
    (completion,) = ask(model, "a")
    assert KEY not in completion.text and "the key is" in completion.text
    assert len(api.submitted) == 2 and api.submitted[0] == api.submitted[1]
    assert model.stats.retries == 1 and model.stats.attempts == 2


def test_a_failed_request_is_raised_to_its_caller(tmp_path):
    api = FakeBatches(lambda messages: ModelError("bad request", status=400))
    with pytest.raises(ModelError, match="bad request"):
        ask(batched(api, tmp_path), "a")
    assert len(api.submitted) == 1  # not retryable: not sent again


def test_the_models_and_the_judges_batches_share_one_file_without_overwriting_each_other(tmp_path):
    path = tmp_path / "batches.json"
    model, judge = BatchLog(path, "model"), BatchLog(path, "judge")
    model.add({"id": "m0", "status": "submitted", "requests": 1, "custom_ids": ["a"]})
    judge.add({"id": "j0", "status": "submitted", "requests": 1, "custom_ids": ["b"]})
    model.batches[0]["status"] = "fetched"
    model.save()
    roles = json.loads(path.read_text())["roles"]
    assert [b["id"] for b in roles["model"]] == ["m0"] and roles["model"][0]["status"] == "fetched"
    assert [b["id"] for b in roles["judge"]] == ["j0"]
    assert [b["id"] for b in BatchLog(path, "judge").unfetched()] == ["j0"] and not BatchLog(path, "model").unfetched()


def test_a_log_of_the_older_format_is_kept_but_not_resumed(tmp_path):
    path = tmp_path / "batches.json"
    older = {"version": 1, "model": "openai/m", "waves": [{"wave": 0, "batches": [{"id": "batch_0"}]}]}
    path.write_text(json.dumps(older))
    log = BatchLog(path, "model")
    assert log.older and log.batches == []
    log.add({"id": "b1", "status": "submitted", "requests": 1, "custom_ids": ["a"]})
    assert json.loads(path.read_text())["version_1"] == older


@pytest.mark.parametrize(("ended", "sent"), [("expired", 2), ("failed", 1)])
def test_a_request_a_batch_ended_without_is_retried_unless_the_provider_refused_the_batch(tmp_path, ended, sent):
    api = FakeBatches()
    api.ended, api.without_results = [ended, "ended"], {"b0"}
    model = batched(api, tmp_path)
    if ended == "expired":
        assert [c.text for c in ask(model, "a")] == ["fine"]
    else:
        with pytest.raises(ModelError, match=r"the batch ended \(failed\) without a result"):
            ask(model, "a")
    assert len(api.submitted) == sent


def test_a_batch_saved_before_a_restart_is_read_back_for_each_request_it_holds(tmp_path):
    api = FakeBatches()
    first = batched(api, tmp_path)
    key = {t: first.cache_key([{"role": "user", "content": t}], None, {"max_tokens": 8}) for t in ("a", "b", "c")}
    api.outcomes["b7"] = {key["a"]: Completion("saved a", Usage(calls=1)), key["b"]: Completion("saved b", Usage(calls=1))}
    first.batcher.log.add({"id": "b7", "status": "submitted", "requests": 2, "custom_ids": [key["a"], key["b"]]})
    restarted = batched(api, tmp_path)  # a new process: its log is read from the file
    said = []
    restarted.batcher.say = said.append
    assert [c.text for c in ask(restarted, "a")] == ["saved a"]  # waits for the saved batch
    assert [c.text for c in ask(restarted, "b", "c")] == ["saved b", "fine"]  # "b" read back already; "c" is new
    assert api.submitted == [[key["c"]]] and any("resuming the model's batches" in line for line in said)
    assert [b["status"] for b in BatchLog(tmp_path / "batches.json", "model").batches] == ["fetched", "fetched"]


def test_rpm_and_tpm_do_not_pace_a_batched_models_requests(tmp_path):
    from constitutional.calls.batch import attach_batcher
    from constitutional.calls.factory import Calls, call_settings

    model = Calls(call_settings(cache=False, rpm=1, tpm=10, base_url="http://127.0.0.1:9/v1")).model("openai/m")
    assert model.limiter.requests is not None and model.default_concurrency < batch_transport.IN_FLIGHT
    attach_batcher(model, tmp_path / "batches.json", "model", lambda line: None)
    assert model.limiter.requests is None and model.limiter.tokens is None
    assert model.default_concurrency == batch_transport.IN_FLIGHT  # every prompt or record in flight
    asyncio.run(model.aclose())
