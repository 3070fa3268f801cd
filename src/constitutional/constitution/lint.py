"""Warnings about constitutions that load fine but would produce poor critiques, veneer or uncheckable verdicts."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from itertools import combinations
from typing import TYPE_CHECKING

from constitutional.constitution.loading import SUFFIXES, line_of, resolve
from constitutional.text import content_words

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Set as AbstractSet

    from constitutional.constitution.model import Constitution, Principle

NEAR_DUPLICATE = 0.5  # word-set overlap (Jaccard) above which two principles ask for much the same thing
CROWDED = 200  # a word among the rarest of more principles than this proposes no pairs to compare (the lint says so)

ASKS_FOR_SPECIFICS = re.compile(
    r"\b(quot\w*|cite|citing|point (to|at|out)|name (exactly |each |the |which )|which (part|sentence|statement|claim|step)"
    r"|specific\w*|exact\w*|list (each|every|the)|identify (each|every|exactly))",
    re.I,
)

VENEER_NOUNS = (
    r"(warnings?|disclaimers?|caveats?|reminders?|safety (notes?|notices?|messages?)|notes? of caution"
    r"|apolog(y|ies)|hedges?|hedging)"
)
INVITES_VENEER = [
    re.compile(
        r"\b(add|adding|include|including|append|insert|prepend|attach|put|place|begin with|start with|end with"
        rf"|close with|finish with|preface)\b(\W+\w+){{0,6}}?\W+{VENEER_NOUNS}\b",
        re.I,
    ),
    re.compile(r"\bremind (the )?(user|reader|them|people)\b", re.I),
    re.compile(r"\bapologi[sz]e\b", re.I),
    re.compile(
        r"\b(state|say|mention|note|claim|confirm|assert)\w*\b[^.]{0,40}\b(complies|compliant|compliance"
        r"|follows? the (principles?|guidelines?|policy|rules?)|is (now )?(safe|ethical|harmless|appropriate))\b",
        re.I,
    ),
    re.compile(r"\b(soften|tone down)\b|\bmore (polite|cautious|careful) tone\b", re.I),
]
NEGATION = re.compile(r"\b(not|never|no|don't|without|avoid\w*|instead of|rather than|nor)\b", re.I)

# Things no reader of the response can observe, so no judge can verify them.
UNOBSERVABLE = re.compile(
    r"\b((the )?(model|assistant|ai)('s)? (own )?(intentions?|beliefs?|feelings?|motives?|values|character|heart|soul|mind)"
    r"|(truly|genuinely|sincerely|really|secretly) (believes?|cares?|wants?|means?|intends?|feels?)"
    r"|deep down|in (its|their) heart|good person|inner (life|state)|spirit of)\b",
    re.I,
)
MIN_CHECKABLE_WORDS = 6


@dataclass(frozen=True)
class LintWarning:
    code: str
    principle: str | None
    message: str
    fix: str
    field: str = "id"  # the principle's field the warning is about, for its line in the file
    line: int | None = None

    def render(self, where: str) -> str:
        place = f"{where}:{self.line}" if self.line else where
        who = f"principle '{self.principle}': " if self.principle else ""
        return f"{place}: {who}[{self.code}] {self.message}\n  fix: {self.fix}"


def lint_constitution(constitution: Constitution) -> list[LintWarning]:
    """Every warning for one constitution, in principle order."""
    warnings: list[LintWarning] = []
    for principle in constitution.principles:
        warnings += _principle_warnings(principle)
    warnings += _duplicates(constitution.principles)
    order: dict[str | None, int] = {pid: i for i, pid in enumerate(constitution.ids)}  # None: no principle, first
    return sorted(warnings, key=lambda w: order.get(w.principle, -1))


def lint_file(name_or_path: str, constitution: Constitution) -> list[LintWarning]:
    """Lint a loaded constitution and attach the line in its file that each warning is about."""
    path = resolve(name_or_path)
    text = path.read_text(encoding="utf-8")
    kind = SUFFIXES.get(path.suffix.lower(), "yaml")
    index = {pid: i for i, pid in enumerate(constitution.ids)}
    data = {"principles": [{"id": pid} for pid in constitution.ids]}
    return [
        replace(w, line=line_of(text, kind, ("principles", index[w.principle], w.field), data)) if w.principle in index else w
        for w in lint_constitution(constitution)
    ]


def veneer_phrase(text: str) -> str | None:
    """The first phrase in `text` that asks for compliance language rather than a change, if any."""
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        for pattern in INVITES_VENEER:
            match = pattern.search(sentence)
            if match and not NEGATION.search(sentence[: match.start()]):
                return match.group(0)
    return None


def _principle_warnings(p: Principle) -> list[LintWarning]:
    found = []
    if not ASKS_FOR_SPECIFICS.search(p.critique_request):
        found.append(
            LintWarning(
                "vague-critique",
                p.id,
                "the critique request does not ask the critic to quote or point to the offending text",
                "ask for specifics, e.g. start with 'Quote every part that ...' so critiques name exact text the eval can track",
                "critique_request",
            )
        )
    phrase = veneer_phrase(p.revision_request)
    if phrase:
        found.append(
            LintWarning(
                "veneer-revision",
                p.id,
                f'the revision request invites compliance veneer ("{phrase}") instead of a change to substance',
                "ask the reviser to remove, replace or correct the offending content; a bolted-on warning leaves it in place",
                "revision_request",
            )
        )
    if not p.rules:
        unobservable = UNOBSERVABLE.search(p.critique_request)
        if unobservable:
            found.append(
                LintWarning(
                    "uncheckable",
                    p.id,
                    f'the critique asks about something no reader of the response can see ("{unobservable.group(0)}") and '
                    "there are no rules",
                    "ask about what the response says or does, or add a deterministic check under 'rules:'",
                    "critique_request",
                )
            )
        elif len(re.findall(r"\w+", p.critique_request)) < MIN_CHECKABLE_WORDS:
            found.append(
                LintWarning(
                    "uncheckable",
                    p.id,
                    "the critique request is too short to say what would violate it, and there are no rules",
                    "name the concrete content that violates the principle, or add a deterministic check under 'rules:'",
                    "critique_request",
                )
            )
    return found


def _duplicates(principles: list[Principle]) -> list[LintWarning]:
    """Principles with the same critique request, most distinctive words in common, or the same name. No pair is
    compared unless the two share a word (see _similar_pairs), so thousands of principles take a moment."""
    ids = [p.id for p in principles]
    found, reported = [], set()
    for a, b in _same(principles, lambda p: _normal(p.critique_request)):
        reported.add((a, b))
        found.append(
            LintWarning(
                "duplicate",
                ids[b],
                f"has the same critique request as principle '{ids[a]}'",
                f"delete one of '{ids[a]}' and '{ids[b]}', or merge them",
            )
        )
    pairs, crowded = _similar_pairs(_distinctive_words(principles), NEAR_DUPLICATE)
    for a, b, overlap in pairs:
        if (a, b) not in reported:
            reported.add((a, b))
            found.append(
                LintWarning(
                    "near-duplicate",
                    ids[b],
                    f"asks for much the same as principle '{ids[a]}' ({overlap:.0%} of their distinctive words shared)",
                    f"merge '{ids[a]}' and '{ids[b]}', or make each name different content to look for",
                )
            )
    for a, b in _same(principles, lambda p: p.name.strip().lower()):
        if (a, b) not in reported:
            found.append(
                LintWarning(
                    "duplicate",
                    ids[b],
                    f"has the same name as principle '{ids[a]}'",
                    "give each principle a name that says what sets it apart",
                )
            )
    if crowded:
        shown = ", ".join(f"'{w}'" for w in crowded[:5]) + (", ..." if len(crowded) > 5 else "")
        found.append(
            LintWarning(
                "near-duplicate-unchecked",
                None,
                f"{len(crowded)} word(s) ({shown}) are among the rarest words of more than {CROWDED} "
                "principles each; pairs of principles that share only such words were not compared",
                "split the constitution into files of related principles, or give each principle wording of its own",
            )
        )
    return found


def _same(principles: list[Principle], key: Callable[[Principle], str]) -> list[tuple[int, int]]:
    """(first, later) index pairs: each principle whose key an earlier one has, with the first that has it."""
    first: dict[str, int] = {}
    pairs = []
    for index, principle in enumerate(principles):
        value = key(principle)
        if value in first:
            pairs.append((first[value], index))
        else:
            first[value] = index
    return pairs


def _distinctive_words(principles: list[Principle]) -> list[frozenset[str]]:
    """Each principle's words, less those most principles share ("Please rewrite the response ..."), which
    say nothing about overlap."""
    words = [_words(p.critique_request + " " + p.revision_request) for p in principles]
    if len(principles) < 4:
        return [frozenset(ws) for ws in words]
    counts = Counter(w for ws in words for w in ws)
    boilerplate = {w for w, n in counts.items() if n > len(principles) / 2}
    return [frozenset(ws - boilerplate) for ws in words]


def _similar_pairs(sets: list[frozenset[str]], threshold: float) -> tuple[list[tuple[int, int, float]], list[str]]:
    """(i, j, Jaccard) for every pair i < j of sets whose Jaccard similarity is at least `threshold`, and the
    crowded words left out. Prefix filtering: with words ordered rarest first, two sets that similar share a word
    among the first len - ceil(threshold * len) + 1 of each, so only sets sharing such a word are compared. A word
    in more than CROWDED prefixes proposes no pairs: at most CROWDED comparisons per set and prefix word."""
    frequency = Counter(w for s in sets for w in s)
    buckets: dict[str, list[int]] = defaultdict(list)
    for index, words in enumerate(sets):
        ordered = sorted(words, key=lambda w: (frequency[w], w))
        for word in ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]:
            buckets[word].append(index)
    candidates: set[tuple[int, int]] = set()
    crowded = []
    for word, members in buckets.items():
        if len(members) > CROWDED:
            crowded.append(word)
        else:
            candidates.update(combinations(members, 2))
    similar = [(i, j, _jaccard(sets[i], sets[j])) for i, j in sorted(candidates)]
    return [pair for pair in similar if pair[2] >= threshold], sorted(crowded)


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _words(text: str) -> set[str]:
    return set(content_words(text))


def _jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
