"""The regular expressions of constitution files (a rule's `must_match` / `must_not_match`): compiled with the `regex`
module, and searched with a time limit, so that a pattern that backtracks catastrophically on some text (`(a|aa)+$`
on 34 a's and a '!') stops there instead of hanging the eval; and refused when they load if a repeat holds a part
that itself repeats (`(a+)+`, `(\\w+\\s?)*`, `(.*a){30}`), the usual shape of such patterns."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

import regex

SEARCH_SECONDS = 0.5  # how long one rule may search one text (the regex module checks now and then: it may run ~2x)
NESTED_FIX = (
    "rewrite it so that no repeated group holds a repeat of its own: (a+)+ → a+, (\\w+\\s?)* → [\\w\\s]*, "
    "(\\d+\\.)+ → [\\d.]+; or make the inner repeat possessive (a++) or atomic ((?>a+)), which never "
    "backtracks: [a-z]+(?:\\s[a-z]++)*"
)
MANY_REPEATS = 10  # (\w+ ){3} (three words) is fine; (.*a){30} is a search of n^30 steps
_PARSER: Any = importlib.import_module("re._parser")  # the re module's own parser (no public API), to read the shape
_REPEATS = {_PARSER.MAX_REPEAT, _PARSER.MIN_REPEAT}  # possessive repeats never backtrack: left out
_UNBOUNDED = _PARSER.MAXREPEAT


class PatternError(ValueError):
    """A pattern a constitution may not have, and how to fix it (the loader prints `fix`)."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix


@lru_cache(maxsize=256)
def compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.MULTILINE | regex.VERSION0)


def search(pattern: str, text: str) -> regex.Match[str] | None:
    """The first match of `pattern` in `text`; TimeoutError when the search takes over SEARCH_SECONDS."""
    return compiled(pattern).search(text, timeout=SEARCH_SECONDS)


def check_pattern(name: str, pattern: str) -> None:
    """Refuse (PatternError) a pattern that does not compile, or that repeats a part that itself repeats."""
    try:
        compiled(pattern)
    except (regex.error, RecursionError, OverflowError) as exc:
        raise PatternError(
            f"{name} is not a valid regular expression: {exc}", "check the brackets and escapes (a literal '\\' is '\\\\')"
        ) from None
    if nested_quantifier(pattern):
        raise PatternError(
            f"{name} repeats a group that itself repeats (a nested quantifier, like (a+)+): on some texts such a "
            "pattern takes exponential time",
            NESTED_FIX,
        )


def nested_quantifier(pattern: str) -> bool:
    """Whether a repeat in `pattern` holds a repeat that backtracking can split a text between: an unbounded repeat
    (+, *, {n,}) of a part that can match more or less (a+, a?, a{1,3}), or ten or more repeats of an unbounded one
    ((.*a){30}). Repeats of fixed counts ((\\d{3}-)+), bounded ones ((\\d{1,3}\\.){3}), a few of an unbounded one
    ((\\w+ ){3}) and possessive repeats are not. A
    pattern the re module cannot read (the regex module's own syntax) is not judged here; its searches are still
    limited in time."""
    try:
        parsed = _PARSER.parse(pattern)
    except Exception:  # noqa: BLE001 - re's parser refusing what the regex module takes: not judged
        return False
    return _nested(list(parsed), outer=None)


def _nested(items: list, outer: tuple[int, int] | None) -> bool:
    """Whether `items` (a parsed pattern's nodes), inside a repeat of (min, max) counts `outer`, nest repeats badly."""
    for op, value in items:
        if op in _REPEATS:
            low, high, inner = value
            if outer is not None and _bad_pair(outer, (low, high)):
                return True
            if _nested(list(inner), (low, high) if high > 1 else outer):
                return True
        elif any(_nested(list(part), outer) for part in _parts(op, value)):
            return True
    return False


def _bad_pair(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    """An unbounded repeat of a part of varying length (exponential), or ten or more of an unbounded one (n^10)."""
    if outer[1] == _UNBOUNDED:
        return inner[0] != inner[1]
    return inner[1] == _UNBOUNDED and outer[1] >= MANY_REPEATS


def _parts(op: Any, value: Any) -> list:
    """The sub-patterns of a parsed node: a group's, each branch of an alternation, a lookaround's."""
    if op is _PARSER.SUBPATTERN:
        return [value[-1]]
    if op is _PARSER.BRANCH:
        return list(value[1])
    if op in (_PARSER.ASSERT, _PARSER.ASSERT_NOT):
        return [value[1]]
    if op is _PARSER.GROUPREF_EXISTS:
        return [part for part in value[1:] if part is not None]
    return []
