"""A job against stand-ins where a fifth of the requests fail (429, 5xx, timeouts, broken or empty
replies): every record is written exactly once, failures are recorded on their records, nothing
crashes, and retries stay within 1 + --max-retries attempts per call."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.reliability.common import cai, model_args, prompt_file, records
from tests.standins.anthropic_messages import messages_server
from tests.standins.faults import ALWAYS_FAILS, FAULTS, call_key, with_faults
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

MAX_RETRIES = 4
CLIENT_TIMEOUT = 0.5  # seconds; the stand-in's slow replies take three times as long
FAILING_EVERY = 50  # every 50th prompt fails on every attempt


def stand_in(api: str):
    if api == "openai":
        return chat_server(formats=("json_schema", "json_object"))
    return messages_server()


def run_with_faults(tmp_path, api: str, n: int, concurrency: int):
    prompts = prompt_file(tmp_path, n, lambda i: f"question {i}" + (f" {ALWAYS_FAILS}" if i % FAILING_EVERY == 7 else ""))
    out = tmp_path / "run"
    handler = with_faults(stand_in(api), api, rate=0.2, slow_seconds=3 * CLIENT_TIMEOUT)
    with serve(handler) as server:
        result = cai(
            tmp_path,
            "run",
            prompts,
            *model_args(api, server.url),
            "--out",
            out,
            "--concurrency",
            concurrency,
            "--max-retries",
            MAX_RETRIES,
            "--timeout",
            CLIENT_TIMEOUT,
            "--no-eval",
            "-q",
        )
        attempts = Counter(call_key(request.body) for request in server.requests)
    return result, out, attempts, handler.injected


def check_faulty_run(tmp_path, api: str, n: int, concurrency: int) -> dict:
    result, out, attempts, injected = run_with_faults(tmp_path, api, n, concurrency)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1, result.stderr[-3000:]  # ran to the end; some records carry errors

    rows = records(out)
    ids = [row["id"] for row in rows]
    assert len(ids) == n and set(ids) == {f"p{i}" for i in range(n)}  # every record exactly once

    always_failing = [row for row in rows if ALWAYS_FAILS in row["prompt"]]
    assert always_failing
    for row in always_failing:
        error = row["error"]
        assert error and error["stage"] == "draft" and "500" in error["message"] and error["retryable"]
    for row in rows:
        if row["error"] is None:
            assert row["final"] is not None and row["steps"]
        else:  # every failure is one the pipeline understood, never a surprise
            assert row["error"]["stage"] in ("draft", "critique", "revise"), row["error"]

    assert max(attempts.values()) <= 1 + MAX_RETRIES
    assert sum(attempts.values()) <= len(attempts) * (1 + MAX_RETRIES)
    assert sum(injected.values()) > injected["none"] * 0.1, injected

    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["records"] == n
    return {
        "calls": len(attempts),
        "requests": sum(attempts.values()),
        "errors": sum(row["error"] is not None for row in rows),
        "injected": dict(injected),
    }


def test_a_small_job_survives_injected_faults(tmp_path):
    check_faulty_run(tmp_path, "openai", n=30, concurrency=16)


@pytest.mark.slow
@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_500_prompt_job_survives_injected_faults(tmp_path, api):
    numbers = check_faulty_run(tmp_path, api, n=500, concurrency=32)
    assert all(numbers["injected"].get(fault) for fault in FAULTS), numbers  # every kind of fault was met
    print(
        f"{api}: {numbers['requests']} requests for {numbers['calls']} calls "
        f"({numbers['requests'] / numbers['calls']:.2f} attempts per call), {numbers['errors']} records with errors, "
        f"faults injected: {numbers['injected']}"
    )
