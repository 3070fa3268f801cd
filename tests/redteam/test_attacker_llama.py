"""`--attacker openai/smollm2` against llama-cpp-python's own server running the bundled model: the rewrite comes over
real HTTP, the oracle is checked on it, and it is recorded whether or not it kept the flagged span.

Slow: starts `python -m llama_cpp.server` for this module and stops it after."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.redteam.seeds import builtin_seeds
from tests.standins.llama_server import ALIAS, llama_server

pytestmark = pytest.mark.slow


def test_the_bundled_model_as_attacker_through_its_server(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "out"
    with llama_server(tmp_path / "server.log") as url:
        result = CliRunner().invoke(
            app,
            ["redteam", "--limit", "1", "--budget", "6", "--operators", "veneer_end", "--attacker", f"openai/{ALIAS}",
             "--attacker-base-url", url, "-o", str(out), "-q"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    attempts = [json.loads(line) for line in (out / "attempts.jsonl").read_text("utf-8").splitlines()]
    [attacked] = [a for a in attempts if a["operators"][-1:] == ["attacker"]]
    span = builtin_seeds()[0].span
    if attacked["error"] is None:  # kept the span: asked of the eval
        assert span in attacked["revision"] and attacked["verdict"] != "error"
    else:  # lost it (a small model often does): recorded, not asked
        assert attacked["verdict"] == "error" and "breaks the oracle" in attacked["error"], attacked
    assert len(attempts) == 6
