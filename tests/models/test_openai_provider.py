"""The openai provider against a stand-in server on 127.0.0.1: the SDK client's settings, aiohttp's HTTP."""

import asyncio
import socket

import pytest

from constitutional.calls.factory import Calls, call_settings
from constitutional.errors import UserError
from constitutional.models import ModelError, create_model
from constitutional.models.json_reply import parse_json_object
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "kind": {"type": "string", "enum": ["a", "b"]}},
    "required": ["ok", "kind"],
    "additionalProperties": False,
}
ASK = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Classify this."}]


@pytest.fixture(autouse=True)
def no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def generate(model, messages=ASK, schema=None, **params):
    return asyncio.run(model.generate(messages, schema=schema, **params))


def managed(spec, base_url):
    """The provider behind the managed layer, which sends a call again once the provider moves to another mode."""
    return Calls(call_settings(cache=False, base_url=base_url)).model(spec)


def test_llama_cpp_style_500_on_json_schema_falls_back_to_json_object_once_per_server():
    with serve(chat_server(formats=("json_object",))) as server:
        model = managed("openai/tiny", f"{server.url}/v1")
        first = generate(model, schema=SCHEMA, max_tokens=32)
        assert parse_json_object(first.text) == {"ok": True, "kind": "a"}
        assert [r.body.get("response_format", {}).get("type") for r in server.requests] == ["json_schema", "json_object"]
        assert server.requests[1].body["response_format"]["schema"] == SCHEMA
        assert server.requests[1].body["max_tokens"] == 32
        generate(managed("openai/other", f"{server.url}/v1"), schema=SCHEMA)
        assert server.requests[2].body["response_format"]["type"] == "json_object"  # remembered for this URL
        assert len(server.requests) == 3
    assert first.usage.calls == 1 and first.usage.input_tokens == 20 and first.usage.cached_tokens == 8


def test_strict_json_schema_when_the_server_supports_it():
    with serve(chat_server(formats=("json_schema",))) as server:
        completion = generate(create_model("openai/m", base_url=server.url), schema=SCHEMA)
        sent = server.requests[0].body["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True}}
    assert parse_json_object(completion.text) == {"ok": True, "kind": "a"} and len(server.requests) == 1


def test_plain_json_in_words_when_no_response_format_is_accepted():
    with serve(chat_server(formats=(), rejection_status=400)) as server:
        completion = generate(managed("openai/m", server.url), schema=SCHEMA)
        last = server.requests[-1].body
    assert "response_format" not in last and "JSON Schema" in last["messages"][-1]["content"]
    assert parse_json_object(completion.text) == {"ok": True, "kind": "a"} and completion.text.startswith("Sure!")


def test_plain_text_reply_and_usage():
    with serve(chat_server()) as server:
        completion = generate(create_model("openai/m", base_url=server.url))
        assert server.requests[0].body["messages"] == ASK and server.requests[0].body["model"] == "m"
    assert completion.text == "A plain answer from the stand-in." and not hasattr(completion, "parsed")
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (20, 5)


@pytest.mark.parametrize(
    ("word", "status", "retryable", "retry_after"),
    [
        ("RATE-LIMIT", 429, True, 7.0),
        ("QUOTA", 429, False, None),
        ("SERVER-DOWN", 503, True, None),
        ("BAD-REQUEST", 400, False, None),
    ],
)
def test_http_errors_are_classified(word, status, retryable, retry_after):
    with serve(chat_server()) as server:
        with pytest.raises(ModelError) as caught:
            generate(create_model("openai/m", base_url=server.url), [{"role": "user", "content": f"{word} please"}])
        assert len(server.requests) == 1  # the SDK's own retries are off: one retry layer, in the runner
    assert (caught.value.status, caught.value.retryable, caught.value.retry_after) == (status, retryable, retry_after)


def test_a_real_400_fails_every_structured_mode_and_is_reported_as_not_retryable():
    with serve(chat_server()) as server:
        with pytest.raises(ModelError) as caught:
            generate(create_model("openai/m", base_url=server.url), [{"role": "user", "content": "BAD-REQUEST"}], SCHEMA)
    assert caught.value.status == 400 and not caught.value.retryable


def test_wrong_key_is_not_retryable_and_never_echoed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    with serve(chat_server(key="sk-right-key-0123456789")) as server:
        with pytest.raises(ModelError) as caught:
            generate(create_model("openai/m", base_url=server.url))
    assert caught.value.status == 401 and not caught.value.retryable
    assert "sk-wrong-key" not in str(caught.value) and "[redacted]" in str(caught.value)
    assert "HTTP 401: Incorrect API key provided" in str(caught.value)  # the error body's message, not its JSON


def test_requests_carry_the_sdk_clients_key_and_headers(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-test")
    with serve(chat_server(key="sk-test-0123456789")) as server:
        model = create_model("openai/m", base_url=server.url)
        assert generate(model).text == "A plain answer from the stand-in."
        assert generate(model).text  # a second event loop gets a session of its own
    headers = server.requests[0].headers
    assert headers["openai-organization"] == "org-test" and headers["user-agent"].startswith("AsyncOpenAI/Python")
    assert headers["content-type"] == "application/json" and server.requests[0].path == "/chat/completions"


def test_a_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(monkeypatch):
    with serve(chat_server()) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        model = create_model("openai/m", base_url="http://api.example.invalid/v1")
        assert generate(model).text == "A plain answer from the stand-in."
        assert proxy.requests[0].path == "http://api.example.invalid/v1/chat/completions"
        monkeypatch.setenv("NO_PROXY", "api.example.invalid")
        with pytest.raises(ModelError) as caught:  # straight to a host that does not resolve
            generate(create_model("openai/m", base_url="http://api.example.invalid/v1"))
    assert caught.value.retryable and len(proxy.requests) == 1


def test_connection_refused_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError) as caught:
        generate(create_model("openai/m", base_url=f"http://127.0.0.1:{port}/v1"))
    assert caught.value.retryable and caught.value.status is None


def test_key_and_base_url_from_the_environment(monkeypatch):
    with pytest.raises(UserError) as caught:
        create_model("openai/gpt-4o-mini")
    assert "OPENAI_API_KEY" in str(caught.value)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    model = create_model("openai/local-model")  # a local server needs no key
    assert str(model.client.base_url) == "http://127.0.0.1:9/v1/" and model.client.max_retries == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert create_model("openai/m", base_url="http://127.0.0.1:8/v1").client.base_url.port == 8


def test_spec_errors():
    with pytest.raises(UserError, match="needs a model name"):
        create_model("openai/", base_url="http://127.0.0.1:9")
    with pytest.raises(UserError, match="does not take base_url"):
        create_model("local", base_url="http://127.0.0.1:9")


def test_the_structured_mode_is_found_once_per_server_even_by_concurrent_calls():
    from constitutional.models.openai_provider import structured_mode

    with serve(chat_server(formats=("json_object",))) as server:
        model = managed("openai/tiny", f"{server.url}/v1")

        async def many():
            return await asyncio.gather(*(model.generate(ASK, schema=SCHEMA, seed=i) for i in range(6)))

        replies = asyncio.run(many())
        sent = [r.body.get("response_format", {}).get("type") for r in server.requests]
    assert [parse_json_object(r.text) for r in replies] == [{"ok": True, "kind": "a"}] * 6
    assert sent.count("json_schema") == 1 and sent.count("json_object") == 6  # refused once, not once per call
    assert structured_mode(f"{server.url}/v1/") == "json_object"
    # Every HTTP request went through the rate limiter and was counted, the refused one included; it is no retry.
    assert model.stats.attempts == len(server.requests) == 7 and model.stats.retries == 0


def test_calls_that_waited_for_the_mode_to_be_found_then_go_together():
    import threading

    inner, received, in_flight, most = chat_server(formats=("json_object",)), [0], [0], [0]
    together = threading.Condition()

    def slow(path, headers, body):
        """Each request after the two that find the mode is held until seven are in flight at once (or, if they
        never are, a minute has passed): how many were ever in flight together is then counted, not timed."""
        with together:
            received[0] += 1
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            together.notify_all()
            if received[0] > 2:
                together.wait_for(lambda: in_flight[0] >= 7 or most[0] >= 7, timeout=60)
            in_flight[0] -= 1
        return inner(path, headers, body)

    with serve(slow) as server:
        model = managed("openai/tiny", f"{server.url}/v4")

        async def many():
            return await asyncio.gather(*(model.generate(ASK, schema=SCHEMA, seed=i) for i in range(8)))

        asyncio.run(many())
    # One call finds the mode (two requests, one at a time); the seven that waited are then sent at once.
    assert len(server.requests) == 9 and most[0] == 7


def test_a_refused_mode_is_sent_again_even_with_no_retries_and_through_the_rate_limiter():
    from constitutional.calls.limits import RateLimiter
    from constitutional.calls.managed import ManagedModel
    from constitutional.calls.retry import RetryPolicy

    class Counting(RateLimiter):
        acquired = 0

        async def acquire(self, tokens):
            Counting.acquired += 1
            await super().acquire(tokens)

    with serve(chat_server(formats=(), rejection_status=400)) as server:
        inner = create_model("openai/m", base_url=f"{server.url}/v2")
        model = ManagedModel(inner=inner, limiter=Counting(), retry=RetryPolicy(max_retries=0))
        completion = generate(model, schema=SCHEMA)
    assert parse_json_object(completion.text) == {"ok": True, "kind": "a"}
    assert Counting.acquired == model.stats.attempts == len(server.requests) == 3


def test_a_bad_request_that_is_no_format_refusal_does_not_change_the_mode():
    from constitutional.models.openai_provider import structured_mode

    with serve(chat_server(formats=("json_schema",))) as server:
        model = managed("openai/m", f"{server.url}/v3")
        with pytest.raises(ModelError) as caught:
            generate(model, [{"role": "user", "content": "BAD-REQUEST"}], SCHEMA)
        assert caught.value.status == 400 and len(server.requests) == 1
        assert structured_mode(f"{server.url}/v3/") == "json_schema"
        assert parse_json_object(generate(model, schema=SCHEMA).text) == {"ok": True, "kind": "a"}


def test_build_request_and_read_reply_are_the_providers_public_seams():
    from constitutional.models.base import ChatCall

    model = create_model("openai/m", base_url="http://127.0.0.1:9/v1")
    body = model.build_request(ChatCall(ASK, SCHEMA, {"max_tokens": 7, "temperature": 0}), "json_schema")
    assert body == {
        "model": "m",
        "messages": ASK,
        "temperature": 0,
        "max_tokens": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True}},
    }
    words = model.build_request(ChatCall(ASK, SCHEMA), "prompt")
    assert "response_format" not in words and "JSON Schema" in words["messages"][-1]["content"]
    reply = model.read_reply({"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
    assert reply.text == "hi" and (reply.usage.calls, reply.usage.input_tokens) == (1, 3)
    with pytest.raises(ModelError, match="no choices"):
        model.read_reply({"choices": []})
    assert model.capabilities.batch_api.endswith(":OpenAIBatches")
