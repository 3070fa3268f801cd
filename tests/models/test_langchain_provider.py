"""The langchain adapter with langchain-core's fake chat models."""

import asyncio
import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel

from constitutional.errors import UserError
from constitutional.models import ModelError, create_model
from constitutional.models.json_reply import parse_json_object
from constitutional.models.langchain_provider import LangChainModel
from tests.helpers import write
from tests.models.fake_chat import CRITIQUE, DRAFT, tool_calling_chat

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
ASK = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def generate(model, messages=ASK, schema=None):
    return asyncio.run(model.generate(messages, schema=schema))


def test_spec_loads_a_factory_and_replies_with_usage():
    model = create_model("langchain:tests.models.fake_chat:chat")
    completion = generate(model)
    assert completion.text == DRAFT and not hasattr(completion, "parsed")
    assert (
        completion.usage.calls,
        completion.usage.input_tokens,
        completion.usage.output_tokens,
        completion.usage.cached_tokens,
    ) == (1, 11, 7, 4)
    assert model.spec == "langchain:tests.models.fake_chat:chat"


def test_structured_output_through_with_structured_output_when_the_model_has_tools():
    model = LangChainModel(tool_calling_chat({"ok": True}))
    completion = generate(model, schema=SCHEMA)
    assert parse_json_object(completion.text) == {"ok": True} and json.loads(completion.text) == {"ok": True}


def test_structured_output_falls_back_to_json_in_words():
    chat = FakeListChatModel(responses=['Here you go: {"ok": false}'])
    model = LangChainModel(chat)
    completion = generate(model, schema=SCHEMA)
    assert parse_json_object(completion.text) == {"ok": False} and not model._has_structured_output


def test_critique_reply_from_the_cycle_parses():
    model = create_model("langchain:tests.models.fake_chat:chat")
    generate(model)
    assert parse_json_object(generate(model, schema=SCHEMA).text) == CRITIQUE


class RateLimited(Exception):
    status_code = 429


class FailingChat(GenericFakeChatModel):
    error: Exception

    def _generate(self, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize(
    ("error", "retryable"),
    [(RateLimited("slow down"), True), (TimeoutError("late"), True), (ValueError("bad input for sk-secret-0123456789"), False)],
)
def test_model_failures_become_classified_model_errors(error, retryable):
    with pytest.raises(ModelError) as caught:
        generate(LangChainModel(FailingChat(messages=iter([]), error=error)))
    assert caught.value.retryable is retryable and "sk-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("langchain:", "needs a module"),
        ("langchain:tests.models.fake_chat", "needs a module"),
        ("langchain:no_such_module_here:chat", "cannot import"),
        ("langchain:tests.models.fake_chat:missing", "no attribute"),
        ("langchain:tests.models.fake_chat:not_a_chat_model", "not a langchain-core chat model"),
    ],
)
def test_bad_specs_are_user_errors(spec, message):
    with pytest.raises(UserError, match=message):
        create_model(spec)


def test_a_module_in_the_current_folder_is_found(tmp_path, monkeypatch):
    write(
        tmp_path / "my_chat_models_here.py",
        "from langchain_core.language_models.fake_chat_models import FakeListChatModel\n"
        "chat = FakeListChatModel(responses=['from my folder'])\n",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", ".", str(tmp_path))])
    assert generate(create_model("langchain:my_chat_models_here:chat")).text == "from my folder"
