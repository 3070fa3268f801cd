"""Recognisable fake keys never reach a file, the cache, stdout or stderr: not on the happy path with
eval and reports, not when a server echoes the key back in a 401, a retried 500 or a judge's error.
(tests/models/test_cli_providers.py covers a plain `cai run --no-eval`; this adds eval, reports,
the cache, retried errors and the judge.)"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import write
from tests.reliability.common import cai, model_args
from tests.standins.anthropic_messages import messages_server
from tests.standins.openai_compatible import chat_server
from tests.standins.server import last_user_text, serve

OPENAI_KEY = "sk-proj-FAKE0KEY0openai0never0written0d41c9"
ANTHROPIC_KEY = "FAKE-anthropic-key-never-written-77ab0c"  # not sk- shaped: redaction must not rely on the shape
KEYS = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}


def given_key(headers: dict) -> str:
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def leaky(handler, api: str):
    """The stand-in, but prompts with RUN-LEAK get a retryable 500 and judge calls with JUDGE-LEAK a 401, each echoing the key."""

    def error(status: int, message: str):
        if api == "anthropic":
            return status, {"type": "error", "error": {"type": "api_error", "message": message}}, {}
        return status, {"error": {"message": message, "type": "server_error"}}, {}

    def handle(path, headers, body):
        key, text = given_key(headers), last_user_text(body)
        if "strict auditor" in str(body) and "JUDGE-LEAK" in text:
            return error(401, f"Incorrect API key provided: {key}. You can find your key at ...")
        if "RUN-LEAK" in text and "strict auditor" not in str(body):
            return error(500, f"upstream failure while serving key={key}")
        return handler(path, headers, body)

    return handle


def assert_no_key_anywhere(tmp_path, *outputs: str):
    for key in KEYS.values():
        middle = key[6:-6]  # catches a key echoed with its ends cut or masked
        for output in outputs:
            assert middle not in output
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.name == "replies.sqlite" or p.suffix == ".sqlite" for p in files)  # the cache was scanned too
        for path in files:
            assert middle.encode() not in path.read_bytes(), path


def stand_in(api: str, key: str | None):
    return chat_server(formats=("json_schema",), key=key) if api == "openai" else messages_server(key=key)


@pytest.mark.parametrize("api", ["openai", pytest.param("anthropic", marks=pytest.mark.slow)])
def test_run_eval_and_reports_with_keys_echoed_in_errors(tmp_path, api):
    prompts = write(
        tmp_path / "p.jsonl",
        '{"id": "ok", "prompt": "hello"}\n{"id": "leak", "prompt": "RUN-LEAK please"}\n'
        '{"id": "judge-leak", "prompt": "JUDGE-LEAK here"}\n',
    )
    out = tmp_path / "run"
    right_key = KEYS[f"{api.upper()}_API_KEY"]
    with serve(leaky(stand_in(api, right_key), api)) as server:
        run = cai(tmp_path, "run", prompts, *model_args(api, server.url), "--out", out, "--max-retries", "1", **KEYS)
        reports = [
            CliRunner().invoke(app, ["report", str(out), "--format", fmt], env=KEYS) for fmt in ("text", "md", "json", "html")
        ]
        wrong = cai(
            tmp_path,
            "run",
            prompts,
            *model_args(api, server.url),
            "--out",
            tmp_path / "wrong",
            "--no-cache",
            **{**KEYS, f"{api.upper()}_API_KEY": right_key + "-wrong"},
        )
    assert run.returncode == 1, run.stderr  # the LEAK record failed after its retry
    assert (out / "eval.jsonl").is_file() and (out / "report.html").is_file()
    assert "[redacted]" in (out / "records.jsonl").read_text()
    assert "401" in (out / "eval.jsonl").read_text()  # the judge's 401 was recorded, redacted
    assert wrong.returncode == 1 and "401" in (tmp_path / "wrong" / "records.jsonl").read_text()
    outputs = [run.stdout, run.stderr, wrong.stdout, wrong.stderr] + [r.output for r in reports]
    assert_no_key_anywhere(tmp_path, *outputs)
