"""Structured output: validate, re-ask with the error (the model's `structured_reasks` times), then give up
with a typed error."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from constitutional.models.base import ChatModel, Message, Usage
from constitutional.models.json_reply import json_object_text

T = TypeVar("T", bound=BaseModel)


class StructuredOutputError(Exception):
    """The model's reply did not parse after the re-asks. Carries the raw reply so it can be recorded."""

    def __init__(self, message: str, raw: str, usage: Usage):
        super().__init__(message)
        self.raw = raw
        self.usage = usage


def parse_reply(text: str, model_type: type[T], context: dict | None = None) -> T:
    """The reply's JSON object (prose around it allowed) validated as `model_type`; raises ValidationError."""
    candidate = json_object_text(text)
    return model_type.model_validate_json(text if candidate is None else candidate, context=context)


async def generate_structured(
    model: ChatModel,
    messages: list[Message],
    model_type: type[T],
    schema: dict,
    context: dict | None = None,
    reasks: int | None = None,
    **params: Any,
) -> tuple[T, Usage]:
    """A validated reply; after one that does not validate, the model is asked again with the error, up to
    `reasks` times (default: the model's `structured_reasks`)."""
    reasks = model.structured_reasks if reasks is None else reasks
    usage = Usage()
    conversation = messages
    for _ in range(reasks + 1):
        completion = await model.generate(conversation, schema=schema, **params)
        usage.add(completion.usage)
        try:
            return parse_reply(completion.text, model_type, context), usage
        except (ValidationError, ValueError) as exc:
            error = describe_error(exc)
        conversation = conversation + [
            {"role": "assistant", "content": completion.text},
            {
                "role": "user",
                "content": f"That reply was not valid: {error}\n"
                f"Reply again with JSON only, matching this schema: {json.dumps(schema)}",
            },
        ]
    raise StructuredOutputError(f"reply did not match the schema after {count_reasks(reasks)}: {error}", completion.text, usage)


def count_reasks(n: int) -> str:
    return {0: "no re-ask", 1: "one re-ask"}.get(n, f"{n} re-asks")


def describe_error(exc: Exception) -> str:
    """A validation or JSON error in a few words, for a re-ask or a record's error."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)[:300]
