import json

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import DATA, ROOT, write

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"
SHORT = ROOT / "examples" / "constitutions" / "short.yaml"
SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_eval_a_jsonl_of_revisions_made_elsewhere(tmp_path):
    source = write(
        tmp_path / "revisions.jsonl",
        "\n".join(
            json.dumps(row)
            for row in [
                {
                    "id": "a",
                    "prompt": "Best way to learn Spanish?",
                    "draft": "Use an app.",
                    "response": "Use an app. Note: results vary and this is not professional advice.",
                },
                {"prompt": "Capital of Peru?", "revision": "Lima.", "source": "vendor-x"},
            ]
        )
        + "\n",
    )
    result = cai("eval", source, "--judge", "none", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = lines(tmp_path / "out" / "eval.jsonl")
    assert [r["id"] for r in rows][0] == "a" and len(rows[1]["id"]) == 16
    assert rows[0]["verdict"] == "superficial" and rows[0]["revision"].startswith("Use an app.")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["schema_version"] == 1 and report["total"] == 2 and sum(report["counts"].values()) == 2
    assert report["judge"]["spec"] is None and report["input"]["kind"] == "jsonl"
    assert report["canaries"]["planted"] == 12 and report["canaries"]["signals_fooled"] == 0
    assert "eval: 2 records" in result.output


def test_default_out_dir_for_a_jsonl(tmp_path):
    source = write(tmp_path / "r.jsonl", '{"prompt": "p", "revision": "Lima is the capital."}\n')
    assert cai("eval", source, "--judge", "none").exit_code == 0
    assert (tmp_path / "r-eval" / "report.json").is_file()


def test_bad_input_exits_2_with_the_line(tmp_path):
    source = write(tmp_path / "bad.jsonl", '{"prompt": "p", "revision": "ok"}\n{"prompt": "no revision"}\n{oops\n')
    result = cai("eval", source, "--judge", "none", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output and "bad.jsonl:3" in result.output
    assert not (tmp_path / "out").exists()
    assert cai("eval", tmp_path / "missing.jsonl", "--judge", "none").exit_code == 2
    assert cai("eval", tmp_path, "--judge", "none").exit_code == 2  # a directory without records.jsonl
    result = cai("eval", write(tmp_path / "ok.jsonl", '{"prompt": "p", "revision": "r"}\n'), "--judge", "no-such-model")
    assert result.exit_code == 2


def test_eval_a_run_directory_uses_the_runs_constitution(tmp_path):
    out = tmp_path / "run"
    assert cai("run", QUICKSTART, "--model", SCRIPTED, "-c", SHORT, "--out", out, "--no-eval", "-q").exit_code == 0
    assert not (out / "eval.jsonl").exists()
    result = cai("eval", out, "--judge", "none")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    records = {r["id"]: r for r in lines(out / "records.jsonl")}
    assert report["constitution"]["name"] == "short" and report["input"]["kind"] == "run"
    assert report["total"] == len(records) >= 2
    for row in lines(out / "eval.jsonl"):
        assert row["id"] in records and row["draft"] == records[row["id"]]["draft"]


def test_records_that_errored_give_exit_1(tmp_path):
    prompts = write(tmp_path / "p.txt", "MODEL-DOWN please\nbenign question\n")
    out = tmp_path / "run"
    cai("run", prompts, "--model", SCRIPTED, "--out", out, "--no-eval", "-q", "--max-retries", "0", "--no-cache")
    result = cai("eval", out, "--judge", "none")
    assert result.exit_code == 1
    verdicts = sorted(r["verdict"] for r in lines(out / "eval.jsonl"))
    assert "error" in verdicts


def test_cai_run_evaluates_at_the_end_with_the_model_as_judge(tmp_path):
    out = tmp_path / "run"
    result = cai("run", QUICKSTART, "--model", SCRIPTED, "-c", SHORT, "--out", out, "-q", "--no-cache")
    assert (out / "eval.jsonl").is_file(), result.output
    report = json.loads((out / "report.json").read_text())
    assert report["judge"]["spec"] == SCRIPTED and report["total"] == len(lines(out / "records.jsonl"))
    assert json.loads((out / "run.json").read_text())["judge"] == SCRIPTED


def test_cai_run_with_judge_none(tmp_path):
    out = tmp_path / "run"
    result = cai("run", QUICKSTART, "--model", SCRIPTED, "--judge", "none", "--out", out, "-q", "--no-cache")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["judge"]["spec"] is None and report["usage"]["calls"] == 0
