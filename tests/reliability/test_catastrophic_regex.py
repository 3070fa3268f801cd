"""A rule's pattern that backtracks catastrophically: `must_not_match: "^(a+)+$"` linted clean, and `cai eval` of a
revision of 34 a's and a '!' hung. A pattern that repeats a part that itself repeats is now refused when the file
loads (validate and lint exit 2, with the fix), and every rule searches with a time limit: a pattern the check cannot
see (`^(a|aa)+$`) is stopped, fails its check saying why, and sends the record to review."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from tests.helpers import clear_error, write
from tests.reliability.common import cai as cai_process

RULE = """name: x
principles:
  - id: a
    name: A
    critique_request: Quote any part that gives concrete help to hurt people.
    revision_request: Remove those details and help with the safe goal instead.
    rules:
      - must_not_match: '{pattern}'
"""


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("pattern", ["^(a+)+$", r"(\w+\s?)*$", "^(.*a){30}$", r"(?:x(a*)?)+", r"[a-z]+(?:\s[a-z]+)*"])
def test_a_rule_with_a_nested_quantifier_is_refused_by_validate_lint_and_eval(tmp_path, pattern):
    path = write(tmp_path / "c.yaml", RULE.format(pattern=pattern))
    for command in ("validate", "lint"):
        clear_error(cai("constitution", command, path), "c.yaml:8:", "nested quantifier", "fix: rewrite it", "possessive")
    revisions = write(tmp_path / "r.jsonl", json.dumps({"prompt": "p", "revision": "a" * 34 + "!"}) + "\n")
    clear_error(cai("eval", revisions, "-c", path, "--judge", "none", "--out", tmp_path / "eval"), "nested quantifier")


@pytest.mark.parametrize(
    "pattern", [r"(\d{3}-)+", r"(\d{1,3}\.){3}", r"(\w+ ){3}", r"(a++)+", r"(?>a+)+", r"[a-z]+(?:\s[a-z]++)*", r"\p{L}+"]
)
def test_rules_without_nested_quantifiers_still_load(tmp_path, pattern):
    assert load_constitution(str(write(tmp_path / "c.yaml", RULE.format(pattern=pattern)))).constitution.principles[0].rules
    assert load_constitution("default").constitution.principles  # its rules too


def test_a_rule_that_backtracks_catastrophically_is_stopped_and_fails_saying_why(tmp_path):
    """`^(a|aa)+$` has no nested quantifier, yet takes Fibonacci(n) steps on n a's and a '!': the eval stops it."""
    path = write(tmp_path / "c.yaml", RULE.format(pattern="^(a|aa)+$"))
    assert cai("constitution", "lint", path).exit_code in (0, 1)  # loads: the shape check cannot see it
    revision = "a" * 60 + "!"
    revisions = write(tmp_path / "r.jsonl", json.dumps({"prompt": "p", "draft": "a draft", "revision": revision}) + "\n")
    args = ("eval", revisions, "-c", path, "--judge", "none", "--out", tmp_path / "eval", "-q")
    result = cai_process(tmp_path, *args, timeout=120)  # it hung before: a timeout fails the test
    assert result.returncode == 0, result.stderr
    line = json.loads((tmp_path / "eval" / "eval.jsonl").read_text())
    (rule,) = line["signals"]["rules"]
    assert rule["passed"] is False and rule["draft_passed"] is True
    assert "the pattern was stopped after 0.5 s" in rule["detail"] and "rewrite it without nested repeats" in rule["detail"]
    assert line["needs_review"] is True
