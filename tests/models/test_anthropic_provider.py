"""The anthropic provider through the real SDK against a stand-in Messages API on 127.0.0.1."""

import asyncio
import json

import pytest

from constitutional.errors import UserError
from constitutional.models import ModelError, create_model
from tests.standins.anthropic_messages import SYSTEM_TOKENS, messages_server
from tests.standins.server import serve

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
ASK = [{"role": "system", "content": "Shared instructions."}, {"role": "user", "content": "Hello."}]


@pytest.fixture(autouse=True)
def no_anthropic_env(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


def generate(model, messages=ASK, schema=None, **params):
    return asyncio.run(model.generate(messages, schema=schema, **params))


def test_text_reply_system_field_with_cache_control_and_cache_usage():
    with serve(messages_server()) as server:
        model = create_model("anthropic/claude-test", base_url=server.url)
        first = generate(model, max_tokens=50, stop=["END"])
        second = generate(model)
        sent = server.requests[0]
    assert sent.path == "/v1/messages" and sent.body["model"] == "claude-test"
    assert sent.body["system"] == [{"type": "text", "text": "Shared instructions.", "cache_control": {"type": "ephemeral"}}]
    assert sent.body["messages"] == [{"role": "user", "content": "Hello."}]
    assert sent.body["max_tokens"] == 50 and sent.body["stop_sequences"] == ["END"] and "tools" not in sent.body
    assert server.requests[1].body["max_tokens"] == 1024  # the API requires it; a default is sent
    assert first.text == "A plain answer from the stand-in." and not hasattr(first, "parsed")
    # input_tokens counts every prompt token; cached_tokens the ones read from the prompt cache
    assert (first.usage.input_tokens, first.usage.cached_tokens, first.usage.cache_write_tokens) == (
        30 + SYSTEM_TOKENS,
        0,
        SYSTEM_TOKENS,
    )
    assert (second.usage.input_tokens, second.usage.cached_tokens, second.usage.cache_write_tokens) == (
        30 + SYSTEM_TOKENS,
        SYSTEM_TOKENS,
        0,
    )


def test_the_shared_start_of_repeated_critiques_is_marked_for_caching():
    shared = "Check the answer against these principles:\n" + "- a principle worth stating at length\n" * 200

    def ask(prompt):
        return [ASK[0], {"role": "user", "content": f"{shared}REQUEST:\n{prompt}\nThe end."}]

    with serve(messages_server()) as server:
        model = create_model("anthropic/m", base_url=server.url)

        async def three_critiques():
            for prompt in ("first prompt", "second prompt", "third prompt"):
                await model.generate(ask(prompt), schema=SCHEMA)

        asyncio.run(three_critiques())
        contents = [r.body["messages"][0]["content"] for r in server.requests]
    assert isinstance(contents[0], str)  # nothing to compare with yet
    for content in contents[1:]:
        assert content[0] == {"type": "text", "text": shared + "REQUEST:\n", "cache_control": {"type": "ephemeral"}}
        assert "cache_control" not in content[1] and content[1]["text"].endswith("prompt\nThe end.")
    with serve(messages_server()) as server:  # a short shared start is not worth a breakpoint
        model = create_model("anthropic/m", base_url=server.url)

        async def twice():
            await model.generate(ASK)
            await model.generate(ASK)

        asyncio.run(twice())
        assert server.requests[1].body["messages"][0]["content"] == "Hello."


def test_structured_output_through_a_forced_tool_call():
    with serve(messages_server()) as server:
        completion = generate(create_model("anthropic/m", base_url=server.url), schema=SCHEMA)
        body = server.requests[0].body
    assert body["tools"][0]["input_schema"] == SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    assert json.loads(completion.text) == {"ok": True} and completion.text == '{"ok": true}'


@pytest.mark.parametrize(
    ("word", "status", "retryable", "retry_after"),
    [
        ("RATE-LIMIT", 429, True, 7.0),
        ("OVERLOADED", 529, True, None),
        ("SPEND-CAP", 429, False, None),
        ("BAD-REQUEST", 400, False, None),
    ],
)
def test_http_errors_are_classified(word, status, retryable, retry_after):
    with serve(messages_server()) as server:
        with pytest.raises(ModelError) as caught:
            generate(create_model("anthropic/m", base_url=server.url), [{"role": "user", "content": word}])
        assert len(server.requests) == 1  # no retries inside the SDK
    assert (caught.value.status, caught.value.retryable, caught.value.retry_after) == (status, retryable, retry_after)


def test_wrong_key_is_not_retryable_and_never_echoed(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-0123456789")
    with serve(messages_server(key="sk-ant-right-0123456789")) as server:
        with pytest.raises(ModelError) as caught:
            generate(create_model("anthropic/m", base_url=server.url))
    assert caught.value.status == 401 and not caught.value.retryable
    assert "sk-ant-wrong" not in str(caught.value)


def test_missing_key_names_the_variable_and_base_url_comes_from_the_environment(monkeypatch):
    with pytest.raises(UserError) as caught:
        create_model("anthropic/claude-sonnet-4-0")
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    model = create_model("anthropic/m")
    assert str(model.client.base_url).startswith("http://127.0.0.1:9") and model.client.max_retries == 0


def test_build_request_and_read_reply_are_the_providers_public_seams():
    from constitutional.models.base import ChatCall

    model = create_model("anthropic/m", base_url="http://127.0.0.1:9")
    params = model.build_request(ChatCall(ASK, SCHEMA, {"max_tokens": 9, "stop": ["END"]}))
    assert params["system"][0]["text"] == "Shared instructions." and params["messages"] == [{"role": "user", "content": "Hello."}]
    assert params["max_tokens"] == 9 and params["stop_sequences"] == ["END"] and params["tools"][0]["input_schema"] == SCHEMA
    usage = {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 3, "cache_creation_input_tokens": None}
    tool = model.read_reply({"content": [{"type": "tool_use", "name": "reply", "input": {"ok": True}}], "usage": usage})
    text = model.read_reply({"content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "!"}], "usage": usage})
    assert json.loads(tool.text) == {"ok": True} and text.text == "Hi!"
    assert (text.usage.input_tokens, text.usage.cached_tokens, text.usage.output_tokens) == (8, 3, 2)
    assert model.capabilities.batch_api.endswith(":AnthropicBatches") and model.capabilities.prompt_cache
