"""The eval line and the report as typed models: written as they always were, validated once by every reader."""

import asyncio
import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from constitutional.evals.evaluate import evaluate, evaluate_line
from constitutional.evals.items import from_line
from constitutional.evals.lines import VERDICTS, EvalLine
from constitutional.evals.report_model import Report
from constitutional.evals.verdicts import VERDICTS as DECIDED
from constitutional.export import VERDICTS as EXPORTED
from tests.reports.report_fixtures import eval_dir, labelled_rows


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_one_list_of_verdicts():
    assert VERDICTS is DECIDED is EXPORTED
    shown = cai("eval", "--help").output
    assert all(v in shown for v in VERDICTS)  # the help text is built from the list


def test_the_typed_line_is_written_byte_for_byte_as_the_eval_built_it():
    constitution = load_constitution("default").constitution
    for n, row in enumerate(labelled_rows()):
        built = asyncio.run(evaluate(from_line(row, n), constitution))
        typed = asyncio.run(evaluate_line(from_line(row, n), constitution))
        assert typed.to_json() == json.dumps(built, ensure_ascii=False)


def test_report_json_reads_back_to_the_same_bytes(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    text = (out / "report.json").read_text("utf-8")
    assert Report.model_validate_json(text).to_json() + "\n" == text
    for line in (out / "eval.jsonl").read_text("utf-8").splitlines():
        assert EvalLine.model_validate_json(line).to_json() == line


@pytest.mark.parametrize(
    "command",
    [
        ("report", "{dir}", "--format", "html"),
        ("export", "{dir}", "--format", "sft"),
        ("review", "{dir}", "--set", "x", "genuine"),
        ("report", "diff", "{dir}", "{dir}"),
    ],
)
def test_a_bad_eval_line_is_refused_naming_its_file_and_line(tmp_path, command):
    out = eval_dir(tmp_path, labelled_rows()[:3])
    lines = (out / "eval.jsonl").read_text("utf-8").splitlines()
    bad = {**json.loads(lines[1]), "confidence": "very"}
    (out / "eval.jsonl").write_text("\n".join([lines[0], json.dumps(bad), *lines[2:]]) + "\n", encoding="utf-8")
    result = cai(*(part.format(dir=out) for part in command))
    assert result.exit_code == 2, result.output
    assert f"{out / 'eval.jsonl'}:2" in result.output and "confidence" in result.output
