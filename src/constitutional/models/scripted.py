"""Deterministic canned replies, for tests and demos.

File format (YAML or JSON):

    rules:
      - when: "Check the RESPONSE"     # regex searched in the conversation's last user message
        reply: {"needs_revision": false, "violations": []}   # text, or data sent back as JSON
      - when: "boom"
        fail: {message: "server error", retryable: true, status: 500}
    default: "A plain answer."          # used when no rule matches
    delay: 0.05                         # optional: seconds each call takes
    call_log: calls.txt                 # optional: append one line per call (counts calls across processes)

The first matching rule wins.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import yaml

from constitutional.errors import UserError, require_exists
from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage


class ScriptedModel(ChatModel):
    default_concurrency = 16

    def __init__(self, rules: list[dict], default: object = None, delay: float = 0.0, call_log: str | None = None):
        self.rules = [(re.compile(r.get("when", ""), re.DOTALL), r) for r in rules]
        self.default = default
        self.delay = delay
        self.call_log = call_log
        self.calls = 0

    @classmethod
    def from_spec(cls, arg: str | None, **_options: Any) -> ScriptedModel:
        if not arg:
            raise UserError("'scripted' needs a file", fix="write the spec as scripted:PATH, e.g. scripted:replies.yaml")
        path = Path(arg)
        require_exists(path, "scripted replies file", fix="check the path after 'scripted:'")
        try:
            data = yaml.safe_load(path.read_text("utf-8"))
        except yaml.YAMLError as exc:
            raise UserError(f"invalid scripted replies file: {exc}", where=arg) from None
        if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
            raise UserError("expected a mapping with 'rules' (a list) and optional 'default'", where=arg)
        return cls(data.get("rules", []), data.get("default"), float(data.get("delay", 0)), data.get("call_log"))

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        self.calls += 1
        if self.call_log:
            with open(self.call_log, "a", encoding="utf-8") as fh:
                fh.write("call\n")
        if self.delay:
            await asyncio.sleep(self.delay)
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        rule = next((r for pattern, r in self.rules if pattern.search(last_user)), None)
        if rule is not None and "fail" in rule:
            fail = rule["fail"]
            raise ModelError(
                fail.get("message", "scripted failure"), retryable=fail.get("retryable", False), status=fail.get("status")
            )
        reply = rule["reply"] if rule is not None else self.default
        if reply is None:
            raise ModelError(f"no scripted rule matches: {last_user[:80]!r}")
        text = reply if isinstance(reply, str) else json.dumps(reply)
        usage = Usage(calls=1, input_tokens=sum(len(m["content"].split()) for m in messages), output_tokens=len(text.split()))
        return Completion(text=text, usage=usage)
