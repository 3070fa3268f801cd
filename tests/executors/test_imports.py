import subprocess
import sys

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT


def test_importing_the_cli_and_the_executors_imports_neither_ray_nor_an_sdk():
    code = (
        "import constitutional.cli.app, constitutional.pipeline.executors, sys; "
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
    assert result.exit_code == 2 and "pip install ray" in result.output


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
