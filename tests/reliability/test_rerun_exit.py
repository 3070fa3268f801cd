"""A rerun without --retry-errors redoes nothing when every prompt has a record, and it exited 0 although every record
in the file had ended with an error. It exits 1, as the first run did: the job's records errored."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import DATA, write


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def failing(tmp_path, monkeypatch):
    """A scripted model whose replies to prompts saying BLANK are blank (an empty reply: the record's error)."""
    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "0.001")
    base = (DATA / "scripted_basic.yaml").read_text().replace("rules:\n", "rules:\n  - when: BLANK\n    reply: ' '\n", 1)
    return f"scripted:{write(tmp_path / 'scripted.yaml', base)}"


@pytest.mark.parametrize("eval_args", [["--no-eval"], ["--judge", "none"]])
@pytest.mark.parametrize("blank", [3, 1])  # every record an error; one of three
def test_a_rerun_without_retry_errors_exits_1_while_records_hold_errors(tmp_path, failing, eval_args, blank):
    prompts = write(
        tmp_path / "p.jsonl",
        "".join(
            json.dumps({"id": f"p{i}", "prompt": f"question {i}" + (" BLANK" if i < blank else "")}) + "\n" for i in range(3)
        ),
    )
    args = ["run", prompts, "-m", failing, "-o", tmp_path / "run", "-q", "--max-retries", "0", *eval_args]
    first = cai(*args)
    assert first.exit_code == 1, first.output
    again = cai(*args)
    assert again.exit_code == 1, again.output
    assert f"{blank} records in {tmp_path / 'run'}/records.jsonl ended with an error; add --retry-errors" in again.output


def test_a_rerun_of_a_job_without_errors_exits_0(tmp_path, failing):
    prompts = write(tmp_path / "p.jsonl", '{"id": "a", "prompt": "question"}\n')
    args = ["run", prompts, "-m", failing, "-o", tmp_path / "run", "-q", "--no-eval"]
    assert cai(*args).exit_code == 0
    assert cai(*args).exit_code == 0
