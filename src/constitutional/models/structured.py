"""Structured output: validate, re-ask once with the error, then give up with a typed error."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from constitutional.models.base import ChatModel, Message, Usage

T = TypeVar("T", bound=BaseModel)


class StructuredOutputError(Exception):
    """The model's reply did not parse after one re-ask. Carries the raw reply so it can be recorded."""

    def __init__(self, message: str, raw: str, usage: Usage):
        super().__init__(message)
        self.raw = raw
        self.usage = usage


def parse_reply(text: str, model_type: type[T], context: dict | None = None) -> T:
    start, end = text.find("{"), text.rfind("}")
    candidate = text[start : end + 1] if start != -1 and end > start else text
    return model_type.model_validate_json(candidate, context=context)


async def generate_structured(model: ChatModel, messages: list[Message], model_type: type[T], schema: dict,
                              context: dict | None = None, **params) -> tuple[T, Usage]:
    usage = Usage()
    completion = await model.generate(messages, schema=schema, **params)
    usage.add(completion.usage)
    try:
        return parse_reply(completion.text, model_type, context), usage
    except (ValidationError, ValueError) as first:
        error = _short(first)
    retry = messages + [
        {"role": "assistant", "content": completion.text},
        {"role": "user", "content": f"That reply was not valid: {error}\nReply again with JSON only, matching this schema: {json.dumps(schema)}"},
    ]
    second = await model.generate(retry, schema=schema, **params)
    usage.add(second.usage)
    try:
        return parse_reply(second.text, model_type, context), usage
    except (ValidationError, ValueError) as exc:
        raise StructuredOutputError(f"reply did not match the schema after one re-ask: {_short(exc)}", second.text, usage) from None


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)[:300]
