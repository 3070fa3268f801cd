"""`cai run` end to end on the API providers (stand-in servers on 127.0.0.1), and no key in anything written."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT, write
from tests.standins.anthropic_messages import messages_server
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"
FAKE_KEY = "sk-FAKE-KEY-must-never-be-written-7c41d"


def cai(tmp_path, *args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    clean.update(env, PYTHONPATH=str(ROOT), CONSTITUTIONAL_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, "-m", "constitutional", "run", *map(str, args), "--no-eval", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean,
        cwd=ROOT,
    )


def records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def assert_complete(rows, count):
    assert len(rows) == count
    for row in rows:
        assert row["error"] is None, row["error"]
        assert row["draft"] and row["final"] and row["steps"][0]["critique"]["violations"]
        assert row["usage"]["calls"] >= 3 and row["usage"]["input_tokens"] > 0


def assert_key_nowhere(tmp_path, result):
    assert FAKE_KEY not in result.stdout + result.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_openai_provider_against_a_llama_cpp_like_server(tmp_path):
    out = tmp_path / "run"
    with serve(chat_server(formats=("json_object",), key=FAKE_KEY)) as server:
        result = cai(
            tmp_path,
            QUICKSTART,
            "--model",
            "openai/tiny",
            "--model-base-url",
            f"{server.url}/v1",
            "--limit",
            "3",
            "--concurrency",
            "1",
            "--out",
            out,
            OPENAI_API_KEY=FAKE_KEY,
        )
        sent = [r.body.get("response_format", {}).get("type") for r in server.requests]
    assert result.returncode == 0, result.stderr
    assert_complete(records(out), 3)
    assert sent.count("json_schema") == 1  # rejected once, then json_object for the rest of the run
    assert_key_nowhere(tmp_path, result)


def test_anthropic_provider_through_anthropic_base_url(tmp_path):
    out = tmp_path / "run"
    with serve(messages_server(key=FAKE_KEY)) as server:
        result = cai(
            tmp_path,
            QUICKSTART,
            "--model",
            "anthropic/claude-test",
            "--limit",
            "2",
            "--out",
            out,
            ANTHROPIC_API_KEY=FAKE_KEY,
            ANTHROPIC_BASE_URL=server.url,
        )
    assert result.returncode == 0, result.stderr
    rows = records(out)
    assert_complete(rows, 2)
    assert sum(r["usage"]["cached_tokens"] for r in rows) > 0
    assert_key_nowhere(tmp_path, result)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_failed_calls_write_no_key(tmp_path, provider):
    """Wrong keys (which the stand-ins echo back, as real APIs partly do) and other failures, recorded as data."""
    prompts = write(tmp_path / "p.jsonl", '{"prompt": "hello"}\n{"prompt": "BAD-REQUEST please"}\n')
    out = tmp_path / "run"
    server_factory = chat_server if provider == "openai" else messages_server
    with serve(server_factory(key="sk-the-right-key-0000")) as server:
        result = cai(
            tmp_path,
            prompts,
            "--model",
            f"{provider}/m",
            "--model-base-url",
            server.url,
            "--out",
            out,
            "--max-retries",
            "0",
            **{f"{provider.upper()}_API_KEY": FAKE_KEY},
        )
    assert result.returncode == 1, result.stderr
    errors = [r["error"] for r in records(out)]
    assert all(e and "401" in e["message"] and not e["retryable"] for e in errors)
    assert_key_nowhere(tmp_path, result)


def test_langchain_model_by_spec(tmp_path):
    out = tmp_path / "run"
    result = cai(
        tmp_path,
        QUICKSTART,
        "--model",
        "langchain:tests.models.fake_chat:chat",
        "--concurrency",
        "1",
        "--limit",
        "2",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert_complete(records(out), 2)


def test_missing_key_exits_2_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    result = CliRunner().invoke(
        app, ["run", str(QUICKSTART), "--model", "anthropic/claude-sonnet-4-0", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY" in result.output
    assert not (tmp_path / "run").exists()
