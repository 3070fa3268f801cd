"""Structured output: one JSON-object extractor, the re-ask count as a setting, and replies that are their text."""

import asyncio
import json

import pytest
from pydantic import BaseModel

from constitutional.calls.managed import ManagedModel
from constitutional.calls.retry import RetryPolicy
from constitutional.models.base import ChatModel, Completion, Usage
from constitutional.models.json_reply import json_object_text, parse_json_object
from constitutional.models.structured import StructuredOutputError, generate_structured, parse_reply

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


class Answer(BaseModel):
    ok: bool


class Replies(ChatModel):
    """Answers with the given texts in order, and keeps the conversations it was sent."""

    spec = "replies"

    def __init__(self, *texts):
        self.texts = list(texts)
        self.sent = []

    async def generate(self, messages, schema=None, **params):
        self.sent.append(messages)
        return Completion(self.texts.pop(0), usage=Usage(calls=1, output_tokens=1))


def test_one_extractor_finds_the_object_for_parsing_and_for_validation():
    text = 'Sure! ```json\n{"ok": true}\n``` done'
    assert json_object_text(text) == '{"ok": true}' and parse_json_object(text) == {"ok": True}
    assert parse_reply(text, Answer) == Answer(ok=True)
    assert json_object_text("no braces } {") is None and parse_json_object("[1, 2]") is None


@pytest.mark.parametrize("reasks", [0, 1, 3])
def test_the_re_ask_count_is_a_setting(reasks):
    model = Replies(*["not json"] * (reasks + 1))
    with pytest.raises(StructuredOutputError) as failed:
        asyncio.run(generate_structured(model, [{"role": "user", "content": "q"}], Answer, SCHEMA, reasks=reasks))
    assert len(model.sent) == reasks + 1 and failed.value.usage.calls == reasks + 1
    assert failed.value.raw == "not json"
    assert {0: "no re-ask", 1: "one re-ask", 3: "3 re-asks"}[reasks] in str(failed.value)
    assert all("That reply was not valid" in sent[-1]["content"] for sent in model.sent[1:])


def test_the_managed_models_policy_sets_the_re_asks_and_the_last_chance_can_succeed():
    inner = Replies("nope", "still not", '{"ok": false}')
    model = ManagedModel(inner=inner, retry=RetryPolicy(max_retries=0, reasks=2))
    parsed, usage = asyncio.run(generate_structured(model, [{"role": "user", "content": "q"}], Answer, SCHEMA))
    assert parsed == Answer(ok=False) and usage.calls == 3 and model.structured_reasks == 2
    assert Replies().structured_reasks == 1  # the default: one re-ask, as before


def test_a_completion_is_its_text_and_the_cache_stores_only_the_text(tmp_path):
    from constitutional.calls.cache import ReplyCache

    cache = ReplyCache(tmp_path)
    model = ManagedModel(inner=Replies('{"ok": true}'), cache=cache)
    completion = asyncio.run(model.generate([{"role": "user", "content": "q"}], schema=SCHEMA))
    assert not hasattr(completion, "parsed")
    key = model.cache_key([{"role": "user", "content": "q"}], SCHEMA, {})
    assert cache.get(key) == {"text": '{"ok": true}'}
    cache.put(key, {"text": '{"ok": true}', "parsed": {"ok": True}})  # as an older version stored it
    again = asyncio.run(model.generate([{"role": "user", "content": "q"}], schema=SCHEMA))
    assert json.loads(again.text) == {"ok": True} and again.usage.cache_hits == 1
