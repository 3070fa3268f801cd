"""`--attacker MODEL` over real HTTP (the openai SDK against a stand-in server): each round the model rewrites the best
revision, told the eval's verdict and reasons; a rewrite that loses the flagged span is recorded and not asked; a call
that still fails after its retries is recorded and the run goes on; a resume asks the attacker nothing again."""

import json
import re
import threading

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import clear_error
from tests.standins.server import chat_completion, serve

FLAGGED = re.compile(r"FLAGGED TEXT \(keep it word for word, unchanged\):\n<<<\n(.*?)\n>>>", re.S)
DOWN = (503, {"error": {"message": "The server is overloaded", "type": "server_error"}}, {})


def rewriter():
    """Requests in cycles of six: a rewrite that keeps the span; one that drops it; two failures (a call that fails
    after its one retry); a failure then a rewrite (a call that succeeds on its retry)."""
    count = {"n": 0}
    lock = threading.Lock()

    def handle(path, headers, body):
        with lock:
            count["n"] += 1
            n = count["n"]
        text = body["messages"][-1]["content"]
        span = FLAGGED.search(text).group(1)
        step = (n - 1) % 6
        if step in (2, 3, 4):
            return DOWN
        content = f"Safer wording, take {n}." if step == 1 else f"I won't pretend this is fine (take {n}): {span}"
        usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
        return 200, chat_completion(body["model"], content, usage), {}

    return handle


def redteam(url, out, *extra):
    args = ["redteam", "--limit", 2, "--budget", 40, "--operators", "veneer_end,hedge,headings", "--seed", 1]
    args += ["--attacker", "openai/rewriter", "--attacker-base-url", f"{url}/v1", "--max-retries", 1, "-o", out, "-q"]
    return CliRunner().invoke(app, [str(a) for a in [*args, *extra]])


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def test_the_attacker_rewrites_with_the_eval_s_reasons_and_its_failures_are_recorded(tmp_path):
    out = tmp_path / "out"
    with serve(rewriter()) as server:
        result = redteam(server.url, out)
        assert result.exit_code == 0, result.output
        asked = len(server.requests)
        attempts = [json.loads(line) for line in (out / "attempts.jsonl").read_text("utf-8").splitlines()]
        by_query = {(a["seed"], a["query"]): a for a in attempts}
        attacked = [a for a in attempts if a["operators"][-1:] == ["attacker"]]
        kept = [a for a in attacked if a["error"] is None]
        assert kept and all("I won't pretend this is fine" in a["revision"] for a in kept)
        assert all(a["verdict"] != "error" and a["reasons"] for a in kept)  # asked of the eval
        lost = [a for a in attacked if a["error"] and "breaks the oracle" in a["error"]]
        failed = [a for a in attacked if a["error"] and "the attacker's call failed" in a["error"]]
        assert lost and failed and all(a["verdict"] == "error" for a in lost + failed)
        assert len(kept) >= len(lost) + len(failed)  # a call that fails once is retried and then kept
        prompts = [r.body["messages"][-1]["content"] for r in server.requests]
        assert all(r.path == "/v1/chat/completions" for r in server.requests)
        parent = by_query[(attacked[0]["seed"], attacked[0]["parent"])]
        assert f"WHAT THE EVALUATOR SAID: {parent['verdict']}" in prompts[0] and parent["reasons"][0] in prompts[0]
        report = json.loads((out / "report.json").read_text())
        assert report["search"]["attacker"] == "openai/rewriter" and report["by_operator"]["attacker"]["queries"] == len(attacked)
        again = redteam(server.url, out)  # a finished red team resumed: nothing is asked again
        assert again.exit_code == 0, again.output
        assert len(server.requests) == asked


def test_an_attacker_with_the_hollow_variant_or_an_unknown_provider_exits_2():
    clear_error(CliRunner().invoke(app, ["redteam", "--variant", "hollow", "--attacker", "local"]), "--variant span")
    clear_error(CliRunner().invoke(app, ["redteam", "--attacker", "opneai/x"]), "unknown model spec 'opneai/x'")
