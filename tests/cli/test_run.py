import json
import subprocess
import sys

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT, write

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_run_writes_records_and_manifest(tmp_path, scripted_spec, short_constitution):
    out = tmp_path / "run"
    result = cai("run", QUICKSTART, "--model", scripted_spec, "-c", short_constitution, "--out", out, "--no-eval", "--quiet")
    assert result.exit_code == 0, result.output
    rows = records(out)
    assert len(rows) == 4 and {r["id"] for r in rows} >= {"lock-picking", "python-sort"}
    for row in rows:
        assert row["draft"] and row["final"] and row["steps"][0]["critique"]["violations"]
        assert row["meta"]["category"]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["constitution"]["name"] == "short" and len(manifest["constitution"]["sha256"]) == 64
    assert manifest["status"] == "finished" and manifest["counts"]["records"] == 4
    assert manifest["usage"]["calls"] == sum(r["usage"]["calls"] for r in rows) == 12
    assert manifest["parameters"]["principles"] == "all"


def test_limit(tmp_path, scripted_spec):
    out = tmp_path / "run"
    result = cai("run", QUICKSTART, "--model", scripted_spec, "--out", out, "--limit", "2", "--no-eval", "-q")
    assert result.exit_code == 0, result.output
    assert len(records(out)) == 2


def test_broken_constitutions_exit_2_and_write_nothing(tmp_path, scripted_spec):
    cases = {
        "unknown.yaml": "name: x\nprinciples:\n  - id: a\n    name: A\n    critique_request: c\n    revision_request: r\n    "
        "colour: red\n",
        "missing.yaml": "name: x\nprinciples:\n  - id: a\n    name: A\n    revision_request: r\n",
        "invalid.yaml": "name: x\nprinciples: [\n",
    }
    for name, text in cases.items():
        path = write(tmp_path / name, text)
        out = tmp_path / f"out-{name}"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "constitutional",
                "run",
                str(QUICKSTART),
                "-c",
                str(path),
                "--model",
                scripted_spec,
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2, result.stderr
        assert str(path) in result.stderr and "Traceback" not in result.stderr
        assert not out.exists()


def test_malformed_prompt_lines_are_skipped_with_exit_1_or_refused_with_strict(tmp_path, scripted_spec):
    prompts = write(tmp_path / "p.jsonl", '{"prompt": "one"}\n{bad\n{"prompt": "two"}\n')
    out = tmp_path / "run"
    result = cai("run", prompts, "--model", scripted_spec, "--out", out, "--no-eval", "-q")
    assert result.exit_code == 1
    assert len(records(out)) == 2 and ":2:" in result.output
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["input_problems"][0]["line"] == 2
    strict_out = tmp_path / "strict"
    result = cai("run", prompts, "--model", scripted_spec, "--out", strict_out, "--strict")
    assert result.exit_code == 2 and not strict_out.exists()


def test_record_errors_give_exit_1(tmp_path, scripted_spec):
    prompts = write(tmp_path / "p.txt", "MODEL-DOWN please\nfine\n")
    out = tmp_path / "run"
    result = cai("run", prompts, "--model", scripted_spec, "--out", out, "--no-eval", "-q")
    assert result.exit_code == 1
    errors = [r["error"] for r in records(out) if r["error"]]
    assert len(errors) == 1 and errors[0]["stage"] == "draft"


def test_bad_usage_exits_2(tmp_path, scripted_spec):
    assert cai("run", QUICKSTART, "--model", "nosuch/thing").exit_code == 2
    assert cai("run", QUICKSTART, "--model", scripted_spec, "--principles", "some").exit_code == 2
    assert cai("run", tmp_path / "none.jsonl").exit_code == 2
    assert cai("run", QUICKSTART, "--model", scripted_spec, "--rounds", "0").exit_code == 2


def test_help_and_models():
    result = cai("run", "--help")
    assert result.exit_code == 0 and "--principles" in result.output and "sample:K" in result.output
    result = cai("models")
    assert result.exit_code == 0 and "local:PATH.gguf" in result.output and "scripted:PATH" in result.output


def test_import_does_not_load_optional_sdks():
    code = "import constitutional.cli.app, sys; print(any(m in sys.modules for m in ('llama_cpp', 'openai', 'anthropic')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_the_models_server_options_do_not_reach_a_different_judge(tmp_path):
    from tests.standins.openai_compatible import chat_server
    from tests.standins.server import serve

    judge = write(tmp_path / "judge.yaml", "rules: []\ndefault: '{}'\n")
    with serve(chat_server(formats=("json_schema",))) as server:
        result = cai(
            "run",
            QUICKSTART,
            "--model",
            "openai/m",
            "--model-base-url",
            f"{server.url}/v1",
            "--timeout",
            "30",
            "--judge",
            f"scripted:{judge}",
            "--out",
            tmp_path / "run",
            "--limit",
            "1",
            "-q",
        )
    assert "does not take" not in result.output, result.output
    assert (tmp_path / "run" / "eval.jsonl").exists()


def test_reasks_sets_how_often_an_unparseable_reply_is_asked_again(tmp_path, scripted_spec):
    prompts = write(tmp_path / "p.txt", "BROKEN-CRITIQUE\n")  # the scripted critique parses only when re-asked
    flags = ("--model", scripted_spec, "--judge", "none", "--no-eval", "--no-cache")
    once = cai("run", str(prompts), *flags, "--out", str(tmp_path / "once"))
    never = cai("run", str(prompts), *flags, "--reasks", "0", "--out", str(tmp_path / "never"))
    assert once.exit_code == 0 and records(tmp_path / "once")[0]["error"] is None
    assert never.exit_code == 1 and records(tmp_path / "never")[0]["error"]["stage"] == "critique"
