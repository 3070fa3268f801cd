"""Run time after a resume: the seconds spent running, summed over invocations, not the days between them."""

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import write


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def read(path):
    return json.loads(path.read_text())


def test_a_resumed_run_counts_only_the_time_it_ran_in_run_json_report_json_and_the_terminal(tmp_path, scripted_spec):
    prompts = write(tmp_path / "p.jsonl", "".join(json.dumps({"prompt": f"question {i}"}) + "\n" for i in range(4)))
    out = tmp_path / "run"
    assert (
        cai("run", prompts, "-m", scripted_spec, "-o", out, "--limit", "2", "--judge", "none", "--no-eval", "-q").exit_code == 0
    )
    first = read(out / "run.json")
    assert first["status"] == "finished" and 0 <= first["run_seconds"] < 60
    # As if that invocation ran two days ago and the job then sat idle until now.
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    first.update(
        started=two_days_ago.isoformat(timespec="seconds"),
        finished=(two_days_ago + timedelta(seconds=1)).isoformat(timespec="seconds"),
    )
    write(out / "run.json", json.dumps(first))

    resumed = cai("run", prompts, "-m", scripted_spec, "-o", out, "--judge", "none", "-q")
    assert resumed.exit_code == 0, resumed.output
    manifest = read(out / "run.json")
    assert manifest["started"] == first["started"]  # the job's first start is kept
    assert first["run_seconds"] < manifest["run_seconds"] < 60
    timing = read(out / "report.json")["timing"]
    assert timing["run_seconds"] == manifest["run_seconds"] and timing["run_started"] == first["started"]
    report = cai("report", out)
    assert f"run {manifest['run_seconds']:.1f}s" in report.output, report.output
