"""JSON objects in model replies: the one place that finds `{`…`}` in text, and asking for JSON in words.

Validation against the schema, and the re-asks with the error, are done by models/structured.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constitutional.models.base import Message


def ask_for_json(messages: list[Message], schema: dict) -> list[Message]:
    """The same conversation with the last user message asking for JSON matching `schema`."""
    instruction = f"\n\nReply with one JSON object only, no other text, matching this JSON Schema:\n{json.dumps(schema)}"
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [{**m, "content": m["content"] + instruction} if i == last_user else m for i, m in enumerate(messages)]


def json_object_text(text: str) -> str | None:
    """The span of `text` from its first `{` to its last `}` (prose or code fences around it left out), or None."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else None


def parse_json_object(text: str) -> dict | None:
    """The JSON object in `text` (allowing prose or code fences around it), or None."""
    candidate = json_object_text(text)
    if candidate is None:
        return None
    try:
        value = json.loads(candidate)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
