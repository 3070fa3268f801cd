"""Structured replies from models that cannot be constrained: ask for JSON in words, then parse.

Validation against the schema, and the one re-ask with the error, are done by models/structured.py.
"""

from __future__ import annotations

import json

from constitutional.models.base import Message


def ask_for_json(messages: list[Message], schema: dict) -> list[Message]:
    """The same conversation with the last user message asking for JSON matching `schema`."""
    instruction = f"\n\nReply with one JSON object only, no other text, matching this JSON Schema:\n{json.dumps(schema)}"
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [{**m, "content": m["content"] + instruction} if i == last_user else m for i, m in enumerate(messages)]


def parse_json_object(text: str) -> dict | None:
    """The JSON object in `text` (allowing prose or code fences around it), or None."""
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end < start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
