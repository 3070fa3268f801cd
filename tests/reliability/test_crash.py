"""A run against an API stand-in killed with SIGKILL at random moments, several times, then resumed:
records.jsonl stays valid JSONL, every id is written exactly once, and the only model calls made
twice are those that were in flight when a kill came (the reply cache keeps the rest)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter

import pytest

from tests.reliability.common import cai_command, environment, model_args, prompt_file, records
from tests.standins.faults import call_key
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

PROMPTS, CONCURRENCY, KILLS = 150, 8, 4


def slow(handler, most_seconds: float, seed: int = 0):
    """The handler, each reply delayed by up to `most_seconds`, so a kill finds calls in flight."""
    rng = random.Random(seed)

    def handle(path, headers, body):
        time.sleep(rng.uniform(0, most_seconds))
        return handler(path, headers, body)

    return handle


def complete_lines(out) -> list[dict]:
    """Every newline-terminated line of records.jsonl, parsed (a torn last line is what resume repairs)."""
    data = (out / "records.jsonl").read_bytes() if (out / "records.jsonl").exists() else b""
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path):
    prompts, out = prompt_file(tmp_path, PROMPTS), tmp_path / "run"
    rng = random.Random(8)
    with serve(slow(chat_server(formats=("json_schema", "json_object")), 0.04)) as server:
        command = cai_command(
            "run", prompts, *model_args("openai", server.url), "--out", out, "--concurrency", CONCURRENCY, "--no-eval", "-q"
        )
        env = environment(tmp_path)
        written_before = 0
        for _ in range(KILLS):
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
            # A random moment, measured in model requests so it does not depend on the machine's speed.
            kill_at = len(server.requests) + rng.randint(1, 80)
            deadline = time.monotonic() + 60
            while len(server.requests) < kill_at and time.monotonic() < deadline:
                time.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            lines = complete_lines(out)  # valid JSON, every complete line
            ids = [row["id"] for row in lines]
            assert len(ids) == len(set(ids))
            assert len(ids) >= written_before  # nothing already written is lost
            written_before = len(ids)
        assert written_before < PROMPTS, "the kills came too late to test anything"
        final = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        attempts = Counter(call_key(request.body) for request in server.requests)
    assert final.returncode == 0, final.stderr
    assert "Traceback" not in final.stderr
    rows = records(out)
    ids = [row["id"] for row in rows]
    assert len(ids) == PROMPTS and set(ids) == {f"p{i}" for i in range(PROMPTS)}
    assert all(row["error"] is None for row in rows)
    repeated = sum(attempts.values()) - len(attempts)
    print(f"{KILLS} kills: {repeated} model calls repeated of {len(attempts)} (bound {KILLS * CONCURRENCY})")
    assert repeated <= KILLS * CONCURRENCY
