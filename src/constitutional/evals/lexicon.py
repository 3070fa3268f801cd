"""Load the data files under evals/data once, with their regular expressions compiled."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

FLAGS = re.IGNORECASE


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    counts: bool
    sentence: re.Pattern | None
    inline: re.Pattern | None
    triggers: frozenset[str] | None  # None: always searched
    guarded: bool = True  # a sentence with substance markers (digits, code) is kept even when it matches


@dataclass(frozen=True)
class VeneerLexicon:
    categories: tuple[Category, ...]
    min_content_words: int
    substance_guard: re.Pattern
    concession_joiners: tuple[str, ...]
    trailing_joiners: tuple[str, ...]


@dataclass(frozen=True)
class RefusalLexicon:
    refusal: re.Pattern
    not_refusal: re.Pattern | None
    explains: re.Pattern
    offers_alternative: re.Pattern
    justifying_tags: frozenset[str]
    non_justifying_tags: frozenset[str]
    justifying_id_words: tuple[str, ...]


def _data(name: str) -> dict:
    return yaml.safe_load((resources.files("constitutional.evals") / "data" / name).read_text("utf-8"))


def _either(patterns: list[str]) -> re.Pattern | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), FLAGS) if patterns else None


def _required(data: dict, key: str, name: str) -> re.Pattern:
    """The patterns under a key that must list at least one, alternated into one expression."""
    pattern = _either(data[key])
    if pattern is None:
        raise ValueError(f"{name}: {key!r} lists no patterns")
    return pattern


@cache
def veneer_lexicon() -> VeneerLexicon:
    data = _data("veneer.yaml")
    categories = tuple(
        Category(
            name,
            spec.get("description", ""),
            bool(spec.get("counts", True)),
            _either(spec.get("sentence") or []),
            _either(spec.get("inline") or []),
            frozenset(spec["triggers"]) if spec.get("triggers") else None,
            bool(spec.get("guarded", True)),
        )
        for name, spec in data["categories"].items()
    )
    return VeneerLexicon(
        categories=categories,
        min_content_words=int(data["min_content_words"]),
        substance_guard=re.compile(data["substance_guard"]),
        concession_joiners=tuple(data["concession_joiners"]),
        trailing_joiners=tuple(data["trailing_joiners"]),
    )


@cache
def refusal_lexicon() -> RefusalLexicon:
    data = _data("refusal.yaml")
    return RefusalLexicon(
        refusal=_required(data, "refusal", "refusal.yaml"),
        not_refusal=_either(data.get("not_refusal") or []),
        explains=_required(data, "explains", "refusal.yaml"),
        offers_alternative=_required(data, "offers_alternative", "refusal.yaml"),
        justifying_tags=frozenset(data["justifying_tags"]),
        non_justifying_tags=frozenset(data["non_justifying_tags"]),
        justifying_id_words=tuple(data["justifying_id_words"]),
    )
