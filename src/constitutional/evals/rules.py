"""Principle rules (regex must / must not match, maximum length, required phrases) run on a text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from constitutional.constitution.patterns import SEARCH_SECONDS, search

if TYPE_CHECKING:
    from constitutional.constitution import Constitution, Rule


@dataclass(frozen=True)
class RuleResult:
    principle: str
    kind: str
    description: str
    passed: bool
    detail: str  # what matched, how long, or which phrase was missing
    draft_passed: bool | None = None  # None when there is no draft
    stopped: bool = False  # its pattern was stopped on the revision or the draft (too slow): a person must look

    def to_dict(self) -> dict:
        return {
            "principle": self.principle,
            "rule": self.kind,
            "description": self.description,
            "passed": self.passed,
            "draft_passed": self.draft_passed,
            "detail": self.detail,
        }


STOPPED = "the pattern was stopped"  # a search that took too long (catastrophic backtracking), as a check's detail says
STOPPED_FIX = "it backtracks catastrophically on this text; rewrite it without nested repeats"


def check(rule: Rule, text: str) -> tuple[bool, str]:
    """Whether `text` passes `rule`, and what decided it. A pattern that takes over SEARCH_SECONDS on the text
    (catastrophic backtracking) fails the check, saying so: it is stopped, never left to hang the eval."""
    pattern = rule.must_match if rule.must_match is not None else rule.must_not_match
    if pattern is not None:
        try:
            found = search(pattern, text)
        except TimeoutError:
            return False, f"{STOPPED} after {SEARCH_SECONDS:g} s on a text of {len(text):,} characters: {STOPPED_FIX}"
    if rule.must_match is not None:
        return (True, f"matched {found.group(0)[:80]!r}") if found else (False, f"no match for /{rule.must_match}/")
    if rule.must_not_match is not None:
        return (False, f"found {found.group(0)[:80]!r}") if found else (True, "no match")
    if rule.max_chars is not None:
        return len(text) <= rule.max_chars, f"{len(text)} characters (limit {rule.max_chars})"
    lowered = text.lower()
    hit = next((p for p in rule.require_any or [] if p.lower() in lowered), None)
    return (True, f"contains {hit!r}") if hit else (False, f"none of {rule.require_any} appears")


def describe(rule: Rule) -> str:
    if rule.description:
        return rule.description
    value = getattr(rule, rule.kind)
    return f"{rule.kind.replace('_', ' ')} {value}"


def run_rules(constitution: Constitution, revision: str, draft: str | None) -> list[RuleResult]:
    results = []
    for principle in constitution.principles:
        for rule in principle.rules:
            passed, detail = check(rule, revision)
            draft_passed, draft_detail = check(rule, draft) if draft is not None else (None, "")
            stopped = detail.startswith(STOPPED) or draft_detail.startswith(STOPPED)
            results.append(RuleResult(principle.id, rule.kind, describe(rule), passed, detail, draft_passed, stopped))
    return results
