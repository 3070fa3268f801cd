"""`cai run` when calls fail: the errors shown by kind with their message, and a job whose first records all fail
alike (a refused connection, a bad key) stopped early instead of failing every prompt the same way."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.pipeline.runner import EARLY_STOP_AFTER
from tests.helpers import ROOT, write
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"
CLOSED = "http://127.0.0.1:9/v1"  # nothing listens on the discard port: connection refused
REFUSED = "openai: could not connect to http://127.0.0.1:9/v1: is a server running there? (Cannot connect to host 127.0.0.1:9"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "0.01")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def prompt_file(tmp_path, texts):
    return write(
        tmp_path / "prompts.jsonl", "".join(json.dumps({"id": f"p{i:02}", "prompt": t}) + "\n" for i, t in enumerate(texts))
    )


def records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def kind_lines(output):
    """The summary after the run: a line per kind of error under its heading, its message whole."""
    lines = output.split("errors by kind", 1)[1].splitlines()[1:]
    return [line for line in lines if line.startswith("  ") and " × " in line]


def test_refused_connections_stop_the_job_and_a_fixed_server_resumes_it(tmp_path):
    prompts, out = prompt_file(tmp_path, [f"question {i}" for i in range(12)]), tmp_path / "run"
    stopped = cai(
        "run",
        prompts,
        "-m",
        "openai/x",
        "--model-base-url",
        CLOSED,
        "-o",
        out,
        "--concurrency",
        "2",
        "--max-retries",
        "1",
        "--no-eval",
        "-q",
    )
    assert stopped.exit_code == 1, stopped.output
    assert "stopped:" in stopped.output and REFUSED in stopped.output and "--keep-going" in stopped.output
    rows = records(out)
    assert EARLY_STOP_AFTER <= len(rows) < 12
    assert all(r["error"]["stage"] == "draft" and r["error"]["retryable"] for r in rows)  # retried, yet fatal
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    with serve(chat_server(formats=("json_schema",))) as server:
        resumed = cai("run", prompts, "-m", "openai/x", "--model-base-url", f"{server.url}/v1", "-o", out, "--no-eval", "-q")
    assert resumed.exit_code == 1, resumed.output  # the stopped records keep their errors: the job's records errored
    assert f"{len(rows)} records in {out}/records.jsonl ended with an error; add --retry-errors" in resumed.output
    assert f"{len(rows)} prompts already done, {12 - len(rows)} to go" in resumed.output
    after = records(out)
    assert sorted(r["id"] for r in after) == [f"p{i:02}" for i in range(12)]
    assert all(r["error"] is None for r in after[len(rows) :])


def test_keep_going_runs_every_prompt_and_the_summary_groups_the_errors(tmp_path):
    prompts, out = prompt_file(tmp_path, [f"question {i}" for i in range(12)]), tmp_path / "run"
    result = cai(
        "run",
        prompts,
        "-m",
        "openai/x",
        "--model-base-url",
        CLOSED,
        "-o",
        out,
        "--max-retries",
        "0",
        "--keep-going",
        "--no-eval",
        "-q",
    )
    assert result.exit_code == 1 and "stopped:" not in result.output
    assert len(records(out)) == 12
    assert "errors by kind" in result.output
    [line] = kind_lines(result.output)
    assert line.startswith(f"  12 × draft: {REFUSED}") and line.endswith("9)])"), line


def test_a_bad_key_stops_the_job_after_the_first_records(tmp_path):
    prompts, out = prompt_file(tmp_path, [f"question {i}" for i in range(20)]), tmp_path / "run"
    with serve(chat_server(formats=("json_schema",), key="sk-the-right-key-0000")) as server:
        result = CliRunner().invoke(
            app,
            [
                "run",
                str(prompts),
                "-m",
                "openai/x",
                "--model-base-url",
                f"{server.url}/v1",
                "-o",
                str(out),
                "--concurrency",
                "1",
                "--no-eval",
                "-q",
            ],
            env={"OPENAI_API_KEY": "sk-wrong-key-1111"},
        )
        requests = len(server.requests)
    assert result.exit_code == 1 and "stopped:" in result.output and "HTTP 401" in result.output
    assert len(records(out)) == EARLY_STOP_AFTER and requests == EARLY_STOP_AFTER  # a 401 is never retried


def test_one_success_among_the_first_records_lets_the_job_go_on(tmp_path):
    texts = [f"BAD-REQUEST {i}" for i in range(12)]
    texts[3] = "a question the server can answer"
    prompts, out = prompt_file(tmp_path, texts), tmp_path / "run"
    with serve(chat_server(formats=("json_schema",))) as server:
        result = cai(
            "run",
            prompts,
            "-m",
            "openai/x",
            "--model-base-url",
            f"{server.url}/v1",
            "-o",
            out,
            "--concurrency",
            "1",
            "--no-eval",
            "-q",
        )
    assert result.exit_code == 1 and "stopped:" not in result.output
    assert len(records(out)) == 12
    [line] = kind_lines(result.output)
    assert line.startswith("  11 × draft: openai returned HTTP 400: This model's maximum context length"), line


def test_the_first_hour_example_names_the_refused_connection_in_the_terminal(tmp_path):
    """The issue's command: four prompts, all refused. Too few to stop early; the summary says why they failed."""
    out = tmp_path / "run"
    result = cai(
        "run", QUICKSTART, "--model", "openai/x", "--model-base-url", CLOSED, "--judge", "none", "-o", out, "--max-retries", "0"
    )
    assert result.exit_code == 1 and "stopped:" not in result.output
    assert "(4 with errors" in result.output
    [line] = kind_lines(result.output)
    assert line.startswith(f"  4 × draft: {REFUSED}") and line.endswith("9)])"), line
    assert (out / "report.json").is_file()  # the eval still ran
