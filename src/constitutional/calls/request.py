"""One model call as the pipeline's loop asks for it (`loop.plan` yields them; `loop.process` makes them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constitutional.models.base import Message


@dataclass(frozen=True)
class Call:
    """One model call a prompt's loop needs. A structured call's reply must parse to `reply_type`."""

    stage: str  # draft | critique | revise
    messages: list[Message]
    max_tokens: int
    schema: dict | None = None
    reply_type: type | None = None
    context: dict | None = None
