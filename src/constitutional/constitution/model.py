"""The constitution file format: principles and run defaults."""

from __future__ import annotations

import re
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from constitutional.constitution.patterns import check_pattern

PRINCIPLE_ID = r"^[a-z0-9][a-z0-9_-]*$"
PRINCIPLE_SELECTION = re.compile(r"^(all|sample:[1-9][0-9]*)$")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 (tab and newline too), DEL, C1: none belongs in a name
SURROGATE = re.compile("[\ud800-\udfff]")


def no_control(value: str) -> str:
    """A name or label (the constitution's name and version, a principle's name, a tag) without control characters:
    they are printed on terminals (`cai constitution show`, reports), where ESC, BEL and the like act, not show."""
    found = CONTROL.search(value)
    if found:
        code = f"U+{ord(found.group()):04X}"
        raise PydanticCustomError(
            "control_character", f"holds a control character ({code}): names are shown on terminals, which act on such characters"
        )
    return value


def _strings(value: object) -> list[str]:
    """The texts in a field's value: itself, or those of a list or a dict's values (nested models check their own)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    return []


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_lone_surrogate(cls, value: object) -> object:
        """No text holds half a UTF-16 pair (a "\\ud800" escape in YAML or JSON): it is not a character, and no line of
        eval.jsonl or report.html could be written with it."""
        for text in _strings(value):
            found = SURROGATE.search(text)
            if found:
                raise PydanticCustomError(
                    "lone_surrogate", f"holds a lone surrogate (U+{ord(found.group()):04X}), half of a pair, not a character"
                )
        return value


class Example(Strict):
    """A worked critique and revision shown to the model as a few-shot example."""

    prompt: str = Field(min_length=1)
    response: str = Field(min_length=1)
    critique: str = Field(min_length=1)
    revision: str | None = None


class Rule(Strict):
    """A deterministic check on a revision, used by the eval. Exactly one of the check fields is set."""

    must_match: str | None = Field(default=None, description="Regex the answer must match.")
    must_not_match: str | None = Field(default=None, description="Regex the answer must not match.")
    max_chars: int | None = Field(default=None, gt=0, description="Longest allowed answer, in characters.")
    require_any: list[str] | None = Field(
        default=None, min_length=1, description="At least one of these phrases must appear (case-insensitive)."
    )
    description: str | None = Field(default=None, description="What the rule checks, shown in reports.")

    @model_validator(mode="after")
    def _one_check(self) -> Rule:
        checks = [n for n in ("must_match", "must_not_match", "max_chars", "require_any") if getattr(self, n) is not None]
        if len(checks) != 1:
            raise ValueError("a rule needs exactly one of must_match, must_not_match, max_chars, require_any")
        for name in ("must_match", "must_not_match"):
            pattern = getattr(self, name)
            if pattern is not None:
                check_pattern(name, pattern)  # compiles as the eval will, and refuses nested quantifiers
        return self

    @property
    def kind(self) -> str:
        return next(n for n in ("must_match", "must_not_match", "max_chars", "require_any") if getattr(self, n) is not None)


class Principle(Strict):
    id: str = Field(pattern=PRINCIPLE_ID, description="Stable identifier, e.g. 'privacy'.")
    name: str = Field(min_length=1)
    critique_request: str = Field(min_length=1, description="What the critic looks for in a response.")
    revision_request: str = Field(min_length=1, description="How the reviser must change the substance.")
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    weight: float = Field(default=1.0, gt=0)
    examples: list[Example] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list, description="Deterministic checks the eval runs on revisions.")

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        return no_control(value)

    @field_validator("tags")
    @classmethod
    def _printable_tags(cls, value: list[str]) -> list[str]:
        return [no_control(tag) for tag in value]


class Defaults(Strict):
    rounds: int = Field(default=1, ge=1, le=16)
    principles: str = Field(default="all", description="'all' or 'sample:K'.")

    @field_validator("principles")
    @classmethod
    def _selection(cls, value: str) -> str:
        if not PRINCIPLE_SELECTION.match(value):
            raise ValueError("must be 'all' or 'sample:K' with K a positive whole number, e.g. 'sample:2'")
        return value


class Constitution(Strict):
    name: str = Field(min_length=1)
    version: str = "1"
    description: str | None = None
    principles: list[Principle] = Field(min_length=1)
    defaults: Defaults = Field(default_factory=Defaults)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return str(value) if isinstance(value, (int, float)) else value

    @field_validator("name", "version")
    @classmethod
    def _printable(cls, value: str) -> str:
        return no_control(value)

    @model_validator(mode="after")
    def _unique_ids(self) -> Constitution:
        seen: set[str] = set()
        for principle in self.principles:
            if principle.id in seen:
                raise ValueError(f"principle id '{principle.id}' appears twice; ids must be unique")
            seen.add(principle.id)
        return self

    def principle(self, principle_id: str) -> Principle:
        for principle in self.principles:
            if principle.id == principle_id:
                return principle
        raise KeyError(principle_id)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.principles]


def fields_at(loc: tuple) -> list[str]:
    """The fields a constitution file may have at `loc`, a validation error's location (keys and list indexes)
    without its last part: () → the top level's, ("principles", 0) → a principle's. [] when `loc` leads nowhere."""
    model: type[BaseModel] = Constitution
    for part in loc:
        if isinstance(part, str):
            field = model.model_fields.get(part)
            inner = _model_in(field.annotation) if field else None
            if inner is None:
                return []
            model = inner
    return list(model.model_fields)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model an annotation holds: Principle in list[Principle], Defaults in Defaults."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, get_args(annotation)) if m is not None), None)
