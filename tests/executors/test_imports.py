import subprocess
import sys

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT, clear_error, write


def test_importing_the_cli_and_the_executors_imports_neither_ray_nor_an_sdk():
    code = (
        "import constitutional.cli.app, constitutional.pipeline.executors, constitutional.evals.service, sys; "
        "print(sorted(m for m in ('ray', 'openai', 'anthropic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_ray_executor_without_ray_says_how_to_install_it(tmp_path, monkeypatch, scripted_spec):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(ROOT / "examples" / "prompts" / "quickstart.jsonl"),
            "--model",
            scripted_spec,
            "--executor",
            "ray",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 2 and "scripts/install ray" in result.output


@pytest.mark.parametrize("executor", ["threads", "Batch"])
def test_an_unknown_executor_is_refused(tmp_path, scripted_spec, executor):
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(ROOT / "examples" / "prompts" / "quickstart.jsonl"),
            "--model",
            scripted_spec,
            "--executor",
            executor,
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 2 and "unknown executor" in result.output and not (tmp_path / "run").exists()


def eval_with(tmp_path, executor):
    source = write(tmp_path / "in.jsonl", '{"prompt": "Capital of Peru?", "revision": "Lima."}\n')
    return CliRunner().invoke(
        app, ["eval", str(source), "--judge", "none", "--executor", executor, "--out", str(tmp_path / "out")]
    )


@pytest.mark.parametrize("executor", ["batch", "threads", "Ray"])
def test_the_eval_refuses_an_executor_it_does_not_have(tmp_path, executor):
    result = eval_with(tmp_path, executor)
    clear_error(result, f"the eval has no executor '{executor}'", "use --executor in-process (the default) or --executor ray")
    assert ("cai run --executor batch" in result.output) == (executor == "batch") and not (tmp_path / "out").exists()


def test_the_eval_on_ray_without_ray_says_how_to_install_it(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    clear_error(eval_with(tmp_path, "ray"), "--executor ray needs Ray, which is not installed", "scripts/install ray")
    assert not (tmp_path / "out").exists()
