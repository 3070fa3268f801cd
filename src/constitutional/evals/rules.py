"""Principle rules (regex must / must not match, maximum length, required phrases) run on a text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

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

    def to_dict(self) -> dict:
        return {
            "principle": self.principle,
            "rule": self.kind,
            "description": self.description,
            "passed": self.passed,
            "draft_passed": self.draft_passed,
            "detail": self.detail,
        }


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.MULTILINE)


def check(rule: Rule, text: str) -> tuple[bool, str]:
    if rule.must_match is not None:
        found = _compiled(rule.must_match).search(text)
        return (True, f"matched {found.group(0)[:80]!r}") if found else (False, f"no match for /{rule.must_match}/")
    if rule.must_not_match is not None:
        found = _compiled(rule.must_not_match).search(text)
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
            draft_passed = check(rule, draft)[0] if draft is not None else None
            results.append(RuleResult(principle.id, rule.kind, describe(rule), passed, detail, draft_passed))
    return results
