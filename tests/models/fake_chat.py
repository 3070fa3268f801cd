"""langchain-core fake chat models for the adapter and Runnable tests (importable by spec string).

`chat()` replies in the order one prompt goes through the loop: draft, critique (JSON), revision.
"""

import json
from itertools import cycle

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

DRAFT = "Step 1: pick the lock with a tension wrench."
CRITIQUE = {
    "needs_revision": True,
    "violations": [{"principle": "honesty", "quote": "pick the lock", "explanation": "helps break in"}],
}
REVISION = "A licensed locksmith can help you get back into your own home."
USAGE = {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18, "input_token_details": {"cache_read": 4}}


def chat() -> GenericFakeChatModel:
    replies = [
        AIMessage(DRAFT, usage_metadata=USAGE),
        AIMessage(json.dumps(CRITIQUE), usage_metadata=USAGE),
        AIMessage(REVISION, usage_metadata=USAGE),
    ]
    return GenericFakeChatModel(messages=cycle(replies))


class ToolCallingFake(GenericFakeChatModel):
    """A fake that 'supports' tools, so with_structured_output is used; replies carry a tool call."""

    def bind_tools(self, tools, **kwargs):
        return self


def tool_calling_chat(args: dict) -> ToolCallingFake:
    return ToolCallingFake(
        messages=cycle([AIMessage("", tool_calls=[{"name": "reply", "args": args, "id": "call_1"}], usage_metadata=USAGE)])
    )


not_a_chat_model = 42
