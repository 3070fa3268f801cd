"""The record written per prompt to records.jsonl (see DESIGN.md "Run directory"), read as this model by the pipeline,
the eval and export; and the schema of the critique the model is asked for."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from constitutional.models.base import Usage
from constitutional.text import printable


class Violation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    principle: str
    quote: str = ""
    explanation: str = ""
    quote_found: bool | None = None  # set by the pipeline: does the quote occur in the critiqued answer?

    @field_validator("principle")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        allowed = (info.context or {}).get("principles")
        if allowed is not None and value not in allowed:
            raise ValueError(f"'{value}' is not one of the principle ids {sorted(allowed)}")
        return value


class Critique(BaseModel):
    model_config = ConfigDict(extra="ignore")

    needs_revision: bool
    violations: list[Violation] = Field(default_factory=list)


class Step(BaseModel):
    round: int
    principles: list[str]
    critique: Critique | None = None
    revision: str | None = None
    note: str | None = None  # why a revision was skipped or discarded


# Numbers and ids (a port, a request id, a token count) differ between failures of one kind; an HTTP status does not.
VARYING_PART = re.compile(r"(?<!HTTP )\b(?=[\w.-]*\d)[\w.-]+")
# How a server that cannot be reached fails (aiohttp's and the SDKs' wording), though such failures are retried.
UNREACHABLE = re.compile(r"cannot connect to host|connection refused|connect call failed|connection error\.", re.IGNORECASE)


class RecordError(BaseModel):
    stage: str  # draft | critique | revise
    message: str
    retryable: bool = False
    raw: str | None = None  # the unparseable reply, when there was one

    @property
    def fails_every_prompt(self) -> bool:
        """Whether other prompts will likely fail the same way: the server cannot be reached, or it refused for
        good (a bad key, an unknown model). A reply that did not parse (`raw`) shows the server answers."""
        if self.raw is not None:
            return False
        return not self.retryable or bool(UNREACHABLE.search(self.message))


def error_kind(error: RecordError) -> str:
    """What failures of one kind share: the stage, and the message with its numbers and ids masked."""
    return f"{error.stage}: {VARYING_PART.sub('#', error.message)}"


class ErrorKinds:
    """Failed records grouped by kind (`error_kind`): a count and the first message of each."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.first: dict[str, str] = {}

    def add(self, error: RecordError) -> None:
        kind = error_kind(error)
        self.counts[kind] += 1
        self.first.setdefault(kind, printable(f"{error.stage}: {' '.join(error.message.split())}"))


class Record(BaseModel):
    id: str
    prompt: str
    meta: dict[str, Any] = Field(default_factory=dict)
    draft: str | None = None
    steps: list[Step] = Field(default_factory=list)
    final: str | None = None
    usage: Usage = Field(default_factory=Usage)
    error: RecordError | None = None


def critique_schema(principle_ids: list[str], max_tokens: int = 384) -> dict:
    """JSON Schema for a critique; `principle` is constrained to the ids under review.

    Sizes are bounded so that the longest reply the schema allows fits in `max_tokens`: a reply cut
    off mid-string is invalid JSON, and a constrained small model will happily write to the limit.
    """
    budget = max_tokens * 3 - 40  # about 3 characters of JSON per token, less the outer object
    items = max(1, min(len(principle_ids), 3, budget // 200))
    text = max(40, (budget // items - 70) // 2)  # 70: keys, quotes and the principle id of one item
    return {
        "type": "object",
        "properties": {
            "needs_revision": {"type": "boolean"},
            "violations": {
                "type": "array",
                "maxItems": items,
                "items": {
                    "type": "object",
                    "properties": {
                        "principle": {"type": "string", "enum": list(principle_ids)},
                        "quote": {"type": "string", "maxLength": text},
                        "explanation": {"type": "string", "maxLength": text},
                    },
                    "required": ["principle", "quote", "explanation"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["needs_revision", "violations"],
        "additionalProperties": False,
    }
