"""What the reliability tests share: running `cai` as a real process against stand-ins, and reading runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT, write

RETRY_WAIT = "0.02"  # seconds before a first retry (it doubles each time); keeps fault runs fast


def environment(tmp_path: Path, **extra: str) -> dict:
    """os.environ without provider settings, with the checkout's code, a private cache and short retry waits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env.update(
        PYTHONPATH=str(ROOT / "src"), CONSTITUTIONAL_CACHE_DIR=str(tmp_path / "cache"), CONSTITUTIONAL_RETRY_WAIT=RETRY_WAIT
    )
    env.update(extra)
    return env


def cai_command(*args) -> list[str]:
    return [sys.executable, "-m", "constitutional", *map(str, args)]


def cai(tmp_path: Path, *args, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cai_command(*args), capture_output=True, text=True, timeout=timeout, env=environment(tmp_path, **env), cwd=tmp_path
    )


def prompt_file(tmp_path: Path, n: int, text=lambda i: f"question {i}") -> Path:
    return write(tmp_path / "prompts.jsonl", "".join(json.dumps({"id": f"p{i}", "prompt": text(i)}) + "\n" for i in range(n)))


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text("utf-8").splitlines()]


def model_args(api: str, url: str) -> list[str]:
    """--model and --model-base-url for a stand-in of `api` at `url`."""
    if api == "openai":
        return ["--model", "openai/x", "--model-base-url", f"{url}/v1"]
    return ["--model", "anthropic/x", "--model-base-url", url]


SCRIPTED = f"scripted:{ROOT / 'tests' / 'data' / 'scripted_basic.yaml'}"


def labelled_run(root: Path, *labels: tuple[str, ...]) -> Path:
    """A run directory with every file (records, run.json, eval.jsonl, report.json, labels.jsonl): two prompts, a and
    b, on the scripted model, then each label as `cai review RUN --set *label`."""

    def cai(*args) -> int:
        return CliRunner().invoke(app, [str(a) for a in args]).exit_code

    prompts = write(root / "p.jsonl", '{"id": "a", "prompt": "hello"}\n{"id": "b", "prompt": "how to bake bread"}\n')
    assert cai("run", prompts, "-m", SCRIPTED, "-o", root / "run", "--judge", "none", "-q") == 0
    for label in labels:
        assert cai("review", root / "run", "--set", *label) == 0
    return root / "run"
