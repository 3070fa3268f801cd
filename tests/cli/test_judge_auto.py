"""`--judge auto` (the default): the run's model judges, unless it is the bundled model, which as a judge decides
nothing and costs minutes; then there is no judge, and the terminal says why and how to add one."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.evals.service import judge_left_out, judge_spec
from tests.helpers import ROOT


@pytest.mark.parametrize(
    ("given", "model", "judge"),
    [
        (None, "local", None),
        ("auto", "local", None),
        ("AUTO", "local", None),
        (None, "openai/gpt-4o-mini", "openai/gpt-4o-mini"),
        (None, "local:/models/big.gguf", "local:/models/big.gguf"),  # a GGUF of the user's own may be able to judge
        ("local", "local", "local"),  # asked for by name: it judges
        ("none", "openai/gpt-4o-mini", None),
        ("anthropic/claude-x", "local", "anthropic/claude-x"),
    ],
)
def test_the_auto_rule(given, model, judge):
    assert judge_spec(given, model) == judge
    assert judge_left_out(given, model) == (judge is None and (given or "auto").lower() == "auto")


def test_cai_eval_without_a_judge_says_why_and_how_to_add_one(tmp_path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["eval", str(ROOT / "examples" / "revisions.jsonl"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "no judge: the bundled model is too small to judge" in result.output and "--judge openai/MODEL" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["judge"]["spec"] is None and report["usage"]["calls"] == 0


def test_a_named_judge_gets_no_such_note(tmp_path):
    result = CliRunner().invoke(app, ["eval", str(ROOT / "examples" / "revisions.jsonl"), "-o", str(tmp_path), "--judge", "none"])
    assert result.exit_code == 0, result.output
    assert "no judge:" not in result.output
