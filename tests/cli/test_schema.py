import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.evals.lines import VERDICTS, EvalLine
from constitutional.evals.report_model import Report

NAMES = ("record", "eval-line", "report", "labels")


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_json_schema_of_its_model(name):
    result = CliRunner().invoke(app, ["schema", name])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/") and schema["type"] == "object"
    assert "id" in schema["properties"] or name == "report"


def test_the_eval_line_schema_names_the_verdicts():
    schema = json.loads(CliRunner().invoke(app, ["schema", "eval-line"]).stdout)
    assert schema["properties"]["verdict"]["enum"] == list(VERDICTS)
    assert set(schema["required"]) == {"id", "verdict"}


def test_schema_to_a_file(tmp_path):
    out = tmp_path / "report.schema.json"
    result = CliRunner().invoke(app, ["schema", "report", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["properties"].keys() == Report.model_fields.keys()


def test_an_unknown_name_exits_2_and_lists_the_names():
    result = CliRunner().invoke(app, ["schema", "eval_line"])
    assert result.exit_code == 2
    assert "did you mean 'eval-line'" in result.output and "record, eval-line, report, labels" in result.output


def test_help_explains_the_names():
    result = CliRunner().invoke(app, ["schema", "--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in NAMES) and "cai constitution schema" in result.output


def test_the_constitution_schema_is_still_there():
    result = CliRunner().invoke(app, ["constitution", "schema"])
    assert result.exit_code == 0 and "principles" in json.loads(result.stdout)["properties"]


def test_an_eval_line_is_written_as_it_was_read():
    line = {
        "id": "a",
        "verdict": "genuine",
        "confidence": 1,
        "needs_review": False,
        "decided_by": "signals",
        "principles": [
            {
                "id": "p",
                "verdict": "genuine",
                "evidence": [{"source": "rule", "quote": "q", "where": "revision"}],
                "checks": [{"kind": "judge", "question": "q", "error": "e", "raw": None}],
            }
        ],
        "signals": {"refusal": False, "substantive_change": 0},
        "reasons": [],
        "draft": None,
    }
    assert EvalLine.model_validate(line).to_json() == json.dumps(line, ensure_ascii=False)
