"""`langchain:MODULE:ATTR`: any langchain-core chat model.

ATTR names a `BaseChatModel` instance, or a class or function that returns one when called with no
arguments. Configure the model itself (model name, max_tokens, temperature) where you create it.
Structured steps use the model's `with_structured_output` where it has one; otherwise the reply is
asked for as JSON in words, and models/structured.py validates it and re-asks.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel

from constitutional.errors import UserError
from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.http_errors import from_sdk_exception, redact
from constitutional.models.json_reply import ask_for_json

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

ROLES = {"system": "system", "user": "human", "assistant": "ai"}
REPLY_NAME = "reply"


class LangChainModel(ChatModel):
    default_concurrency = 4

    def __init__(self, chat: BaseChatModel):
        self.chat = chat
        self.spec = f"langchain:{type(chat).__module__}:{type(chat).__name__}"
        self._has_structured_output = True  # until the model says otherwise

    @classmethod
    def from_spec(cls, arg: str | None, **_options: Any) -> LangChainModel:
        module_name, _, attr = (arg or "").partition(":")
        if not module_name or not attr:
            raise UserError(
                "'langchain' needs a module and an attribute",
                fix="write the spec as langchain:MODULE:ATTR, e.g. langchain:my_models:chat",
            )
        if os.getcwd() not in sys.path:  # the `cai` script does not see the current folder, as `python -m` would
            sys.path.append(os.getcwd())
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:
            raise UserError(
                f"cannot import module '{module_name}': {exc}", fix="check the module name and that it is on PYTHONPATH"
            ) from None
        except AttributeError:
            raise UserError(
                f"module '{module_name}' has no attribute '{attr}'", fix="check the name after the second ':'"
            ) from None
        chat = target if isinstance(target, BaseChatModel) or not callable(target) else target()
        if not isinstance(chat, BaseChatModel):
            raise UserError(
                f"'{module_name}:{attr}' is not a langchain-core chat model ({type(chat).__name__})",
                fix="point it at a BaseChatModel instance, or a class or function returning one",
            )
        return cls(chat)

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        if schema is not None and self._has_structured_output:
            try:
                structured = self.chat.with_structured_output(_titled(schema), include_raw=True)
            except NotImplementedError:
                self._has_structured_output = False
            else:
                result = await self._ask(structured, messages)
                parsed = result.get("parsed")
                if isinstance(parsed, dict):
                    return Completion(text=json.dumps(parsed), usage=_usage(result["raw"]))
                return Completion(text=_text(result["raw"]), usage=_usage(result["raw"]))
        if schema is not None:
            reply = await self._ask(self.chat, ask_for_json(messages, schema))
            return Completion(text=_text(reply), usage=_usage(reply))
        reply = await self._ask(self.chat, messages)
        return Completion(text=_text(reply), usage=_usage(reply))

    async def _ask(self, runnable: Runnable[LanguageModelInput, Any], messages: list[Message]) -> Any:
        try:
            return await runnable.ainvoke([(ROLES[m["role"]], m["content"]) for m in messages])
        except Exception as exc:  # noqa: BLE001 - any integration's error becomes a typed ModelError
            if isinstance(getattr(exc, "status_code", None), int) or isinstance(exc, (ConnectionError, TimeoutError)):
                raise from_sdk_exception("langchain model", exc) from None
            raise ModelError(f"langchain model failed: {type(exc).__name__}: {redact(str(exc))[:500]}") from None


def _titled(schema: dict) -> dict:
    # langchain turns a JSON-schema dict into a tool named after its title, and requires one.
    return {"title": REPLY_NAME, "description": "Give the reply as structured data.", **schema}


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def _usage(message: BaseMessage) -> Usage:
    used = getattr(message, "usage_metadata", None) or {}
    cached = (used.get("input_token_details") or {}).get("cache_read") or 0
    return Usage(
        calls=1, input_tokens=used.get("input_tokens", 0), output_tokens=used.get("output_tokens", 0), cached_tokens=cached
    )
