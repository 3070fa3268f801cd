"""The sample reasons quoted in the README (or the docs) are what the example data really produces."""

import json
import re

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT, doc_from


def test_the_readmes_sample_reasons_come_from_the_example_revisions(tmp_path):
    paragraph = doc_from("`reasons` written for a person")
    quoted = re.findall(r'\*"(.+?)"\*', paragraph[:600], flags=re.S)
    assert len(quoted) == 2
    result = CliRunner().invoke(
        app, ["eval", str(ROOT / "examples" / "revisions.jsonl"), "--judge", "none", "--out", str(tmp_path), "-q"]
    )
    assert result.exit_code == 0, result.output
    reasons = [r for line in (tmp_path / "eval.jsonl").read_text().splitlines() for r in json.loads(line)["reasons"]]
    for sample in quoted:
        assert " ".join(sample.split()) in reasons
