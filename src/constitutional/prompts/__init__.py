"""Prompt templates kept as files, rendered into chat messages.

A template has `[system]` and `[user]` sections; `$name` placeholders are filled in one pass, so
text from prompts or models (which may contain `$`, `{` or template tokens) is never re-expanded.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

SECTION = re.compile(r"^\[(system|user|assistant)\]\s*$", re.MULTILINE)


@cache
def template_text(name: str) -> str:
    return (resources.files("constitutional.prompts") / "templates" / f"{name}.txt").read_text("utf-8")


def render(name: str, **values: str) -> list[dict]:
    """Render template `name` into a list of `{"role", "content"}` messages."""
    text = template_text(name)
    parts = SECTION.split(text)
    messages = []
    for role, body in zip(parts[1::2], parts[2::2]):
        content = Template(body.strip("\n")).substitute(values).strip()
        messages.append({"role": role, "content": content})
    return messages
