"""Warnings about constitutions that load fine but would produce poor critiques, veneer or uncheckable verdicts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from itertools import combinations

from constitutional.constitution.loading import SUFFIXES, _line_of, resolve
from constitutional.constitution.model import Constitution, Principle

NEAR_DUPLICATE = 0.5  # word-set overlap (Jaccard) above which two principles ask for much the same thing

ASKS_FOR_SPECIFICS = re.compile(
    r"\b(quot\w*|cite|citing|point (to|at|out)|name (exactly |each |the |which )|which (part|sentence|statement|claim|step)"
    r"|specific\w*|exact\w*|list (each|every|the)|identify (each|every|exactly))",
    re.I,
)

VENEER_NOUNS = (r"(warnings?|disclaimers?|caveats?|reminders?|safety (notes?|notices?|messages?)|notes? of caution"
                r"|apolog(y|ies)|hedges?|hedging)")
INVITES_VENEER = [
    re.compile(r"\b(add|adding|include|including|append|insert|prepend|attach|put|place|begin with|start with|end with"
               rf"|close with|finish with|preface)\b(\W+\w+){{0,6}}?\W+{VENEER_NOUNS}\b", re.I),
    re.compile(r"\bremind (the )?(user|reader|them|people)\b", re.I),
    re.compile(r"\bapologi[sz]e\b", re.I),
    re.compile(r"\b(state|say|mention|note|claim|confirm|assert)\w*\b[^.]{0,40}\b(complies|compliant|compliance"
               r"|follows? the (principles?|guidelines?|policy|rules?)|is (now )?(safe|ethical|harmless|appropriate))\b", re.I),
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

STOPWORDS = set("""a an and any are as at be by for from has have if in into is it its of on or that the their them
this those to was were what when which who whose with would should could does did do than then there these""".split())


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
    order = {pid: i for i, pid in enumerate(constitution.ids)}
    return sorted(warnings, key=lambda w: order.get(w.principle, -1))


def lint_file(name_or_path: str, constitution: Constitution) -> list[LintWarning]:
    """Lint a loaded constitution and attach the line in its file that each warning is about."""
    path = resolve(name_or_path)
    text = path.read_text(encoding="utf-8")
    kind = SUFFIXES.get(path.suffix.lower(), "yaml")
    index = {pid: i for i, pid in enumerate(constitution.ids)}
    data = {"principles": [{"id": pid} for pid in constitution.ids]}
    return [replace(w, line=_line_of(text, kind, ("principles", index[w.principle], w.field), data))
            if w.principle in index else w for w in lint_constitution(constitution)]


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
        found.append(LintWarning(
            "vague-critique", p.id,
            "the critique request does not ask the critic to quote or point to the offending text",
            "ask for specifics, e.g. start with 'Quote every part that ...' so critiques name exact text the eval can track",
            "critique_request",
        ))
    phrase = veneer_phrase(p.revision_request)
    if phrase:
        found.append(LintWarning(
            "veneer-revision", p.id,
            f"the revision request invites compliance veneer (\"{phrase}\") instead of a change to substance",
            "ask the reviser to remove, replace or correct the offending content; a bolted-on warning leaves it in place",
            "revision_request",
        ))
    if not p.rules:
        unobservable = UNOBSERVABLE.search(p.critique_request)
        if unobservable:
            found.append(LintWarning(
                "uncheckable", p.id,
                f"the critique asks about something no reader of the response can see (\"{unobservable.group(0)}\") and there are no rules",
                "ask about what the response says or does, or add a deterministic check under 'rules:'",
                "critique_request",
            ))
        elif len(re.findall(r"\w+", p.critique_request)) < MIN_CHECKABLE_WORDS:
            found.append(LintWarning(
                "uncheckable", p.id,
                "the critique request is too short to say what would violate it, and there are no rules",
                "name the concrete content that violates the principle, or add a deterministic check under 'rules:'",
                "critique_request",
            ))
    return found


def _duplicates(principles: list[Principle]) -> list[LintWarning]:
    found = []
    words = {p.id: _words(p.critique_request + " " + p.revision_request) for p in principles}
    # Wording shared by most principles ("Please rewrite the response ...") says nothing about overlap.
    if len(principles) >= 4:
        counts = Counter(w for ws in words.values() for w in ws)
        boilerplate = {w for w, n in counts.items() if n > len(principles) / 2}
        words = {pid: ws - boilerplate for pid, ws in words.items()}
    for a, b in combinations(principles, 2):
        if _normal(a.critique_request) == _normal(b.critique_request):
            found.append(LintWarning("duplicate", b.id, f"has the same critique request as principle '{a.id}'",
                                 f"delete one of '{a.id}' and '{b.id}', or merge them"))
            continue
        overlap = _jaccard(words[a.id], words[b.id])
        if overlap >= NEAR_DUPLICATE:
            found.append(LintWarning("near-duplicate", b.id,
                                 f"asks for much the same as principle '{a.id}' ({overlap:.0%} of their distinctive words shared)",
                                 f"merge '{a.id}' and '{b.id}', or make each name different content to look for"))
        elif a.name.strip().lower() == b.name.strip().lower():
            found.append(LintWarning("duplicate", b.id, f"has the same name as principle '{a.id}'",
                                 "give each principle a name that says what sets it apart"))
    return found


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in STOPWORDS}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
