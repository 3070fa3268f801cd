"""`cai eval` with a judge on an API stand-in, killed with SIGKILL mid-way and run again: the second run writes the
same eval lines as an eval never interrupted, and repeats only the judge calls that were in flight (the reply cache
keeps the rest)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import pytest

from tests.reliability.common import cai, cai_command, environment, model_args, prompt_file
from tests.reliability.test_crash import slow
from tests.standins.faults import call_key
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

PROMPTS, CONCURRENCY = 30, 4


def lines(out) -> list[dict]:
    return [json.loads(line) for line in (out / "eval.jsonl").read_text("utf-8").splitlines()]


@pytest.mark.slow
def test_an_eval_killed_mid_way_gives_the_same_lines_when_run_again(tmp_path):
    prompts, out, twin = prompt_file(tmp_path, PROMPTS), tmp_path / "run", tmp_path / "twin"
    with serve(slow(chat_server(formats=("json_schema", "json_object")), 0.04)) as server:
        made = cai(tmp_path, "run", prompts, *model_args("openai", server.url), "--out", out, "--no-eval", "-q")
        assert made.returncode == 0, made.stderr
        shutil.copytree(out, twin)
        judge = ["--judge", "openai/x", "--judge-base-url", f"{server.url}/v1", "--judge-concurrency", CONCURRENCY, "-q"]
        env = environment(tmp_path, CONSTITUTIONAL_SCORER="")  # the default scorer
        before = len(server.requests)
        proc = subprocess.Popen(
            cai_command("eval", out, *judge), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path
        )
        deadline = time.monotonic() + 60
        while len(server.requests) < before + 40 and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = {call_key(request.body) for request in server.requests[before:]}
        middle = len(server.requests)
        assert not (out / "eval.jsonl").exists(), "the kill came too late to test anything"
        again = subprocess.run(cai_command("eval", out, *judge), capture_output=True, text=True, env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        repeated = first & {call_key(request.body) for request in server.requests[middle:]}
        fresh = cai(tmp_path, "eval", twin, *judge, CONSTITUTIONAL_SCORER="", CONSTITUTIONAL_CACHE_DIR=str(tmp_path / "c2"))
        assert fresh.returncode == 0, fresh.stderr
    assert lines(out) == lines(twin) and len(lines(out)) == PROMPTS
    assert lines(out)[0]["signals"]["scorer"] == "fast"
    assert len(repeated) <= CONCURRENCY  # only the calls in flight at the kill were made again
