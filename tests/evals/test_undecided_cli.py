"""`undecided` as a user meets it: the summary says what decides such records, the schema has `leaning`, and a person
cannot label a record undecided."""

import json

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import write


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_the_summary_says_how_undecided_records_get_decided(tmp_path):
    row = {"id": "a", "prompt": "Capital of Peru?", "revision": "Lima is the capital of Peru."}
    source = write(tmp_path / "in.jsonl", json.dumps(row) + "\n")
    result = cai("eval", source, "--judge", "none", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "1 undecided: no evidence decides them" in result.output and "--judge openai/MODEL" in result.output
    assert f"cai review {tmp_path / 'out'}" in " ".join(result.output.split())
    schema = json.loads(cai("schema", "eval-line").output)
    assert "undecided" in json.dumps(schema) and "leaning" in schema["properties"]
    refused = cai("review", tmp_path / "out", "--set", "a", "undecided")
    assert refused.exit_code == 2 and "genuine" in refused.output
