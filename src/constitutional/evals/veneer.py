"""Find compliance veneer sentence by sentence, count it, and strip it (lexicon: data/veneer.yaml)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from constitutional.evals.lexicon import Category, veneer_lexicon
from constitutional.text import content_words, normalise, sentences, words

if TYPE_CHECKING:
    import re


@dataclass
class VeneerUnit:
    category: str
    text: str
    counts: bool


@dataclass
class VeneerScan:
    stripped: str  # the text with veneer removed, a sentence per line (so splitting it again gives the same sentences)
    units: list[VeneerUnit] = field(default_factory=list)

    @property
    def counted(self) -> list[VeneerUnit]:
        return [u for u in self.units if u.counts]


def _category(pattern_kind: str, text: str, categories: tuple[Category, ...]) -> tuple[Category, re.Match[str]] | None:
    for category in categories:
        pattern = getattr(category, pattern_kind)
        if pattern is not None and (match := pattern.search(text)):
            return category, match
    return None


def _active(present: set[str], use_triggers: bool) -> tuple[Category, ...]:
    """The categories with a trigger word among `present`: only their patterns can match the text."""
    categories = veneer_lexicon().categories
    if not use_triggers:
        return categories
    return tuple(c for c in categories if c.triggers is None or not c.triggers.isdisjoint(present))


def _split_clause(
    sentence: str, joiners: tuple[str, ...], keep_tail: bool, categories: tuple[Category, ...]
) -> tuple[str, str, Category] | None:
    """(veneer clause, kept rest, its category) when a joiner splits the sentence and one side is veneer."""
    lowered = sentence.lower()
    lex = veneer_lexicon()
    for joiner in joiners:
        cut = lowered.find(joiner)
        if cut <= 0:
            continue
        head, tail = sentence[:cut], sentence[cut + len(joiner) :]
        clause, rest = (head, tail) if keep_tail else (tail, head)
        found = _category("sentence", clause, categories) or _category("inline", clause, categories)
        if found and len(content_words(rest)) >= lex.min_content_words:
            rest = rest[:1].upper() + rest[1:] if keep_tail else rest.rstrip(" ,;") + "."
            return clause, rest, found[0]
    return None


def scan(text: str, use_triggers: bool = True) -> VeneerScan:
    lex = veneer_lexicon()
    kept: list[str] = []
    units: list[VeneerUnit] = []
    parts = sentences(text)
    present = [set(words(part)) for part in parts]
    if not _active(set().union(*present), use_triggers):
        return VeneerScan("\n".join(parts), units)
    for original, words_in_it in zip(parts, present):
        active = _active(words_in_it, use_triggers)
        if not active:
            kept.append(original)
            continue
        sentence, found_units = original, []
        for joiners, keep_tail in ((lex.concession_joiners, True), (lex.trailing_joiners, False)):
            split = _split_clause(sentence, joiners, keep_tail, active)
            if split:
                clause, sentence, category = split
                found_units.append(VeneerUnit(category.name, clause.strip(), category.counts))
        while (found := _category("inline", sentence, active)) is not None:
            category, match = found
            found_units.append(VeneerUnit(category.name, match.group(0).strip(), category.counts))
            sentence = (sentence[: match.start()] + sentence[match.end() :]).strip()
            sentence = sentence[:1].upper() + sentence[1:]
        whole = _category("sentence", sentence, active) if sentence else None
        if whole and not (whole[0].guarded and lex.substance_guard.search(sentence)):
            units.append(VeneerUnit(whole[0].name, original, whole[0].counts))
            continue
        # What is left of a sentence we cut into ("Here is a message") is residue, not substance.
        if found_units and len(content_words(sentence)) < lex.min_content_words:
            first = found_units[0]
            units.append(VeneerUnit(first.category, original, first.counts))
            continue
        units.extend(found_units)
        if sentence:
            kept.append(sentence)
    return VeneerScan("\n".join(kept), units)


def added_units(draft: VeneerScan | None, revision: VeneerScan) -> list[VeneerUnit]:
    """Counted veneer units in the revision that the draft did not already have (by normalised text)."""
    before = Counter(normalise(u.text) for u in draft.counted) if draft else Counter()
    added = []
    for unit in revision.counted:
        key = normalise(unit.text)
        if before[key]:
            before[key] -= 1
        else:
            added.append(unit)
    return added


def strip_veneer(text: str) -> str:
    return scan(text).stripped
