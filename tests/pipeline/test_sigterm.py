"""SIGTERM (`kill PID`, a scheduler ending the job) stops `cai run` as Ctrl-C does: run.json says `interrupted`, every
finished record is kept, the exit is non-zero (143), no traceback, and the same command resumes."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.pipeline.test_resume import ids, prompts, scripted


def started(command, out, records=3):
    """`command` running, once it has written `records` records."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    path, deadline = out / "records.jsonl", time.monotonic() + 60
    while time.monotonic() < deadline and (not path.exists() or len(path.read_text().splitlines()) < records):
        if proc.poll() is not None:
            pytest.fail(f"cai run ended early: {proc.stderr.read()}")
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("sigint_ignored", [False, True])
def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path, sigint_ignored):
    spec, _ = scripted(tmp_path, delay=0.05)
    path, out = prompts(tmp_path, 40), tmp_path / "run"
    command = [sys.executable, "-m", "constitutional", "run", str(path), "-m", spec, "-o", str(out), "--no-eval", "-q"]
    if sigint_ignored:  # a job started in the background by a shell (`cai run ... &`) ignores SIGINT
        command = [
            sys.executable,
            "-c",
            "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "sys.argv = ['cai', *sys.argv[1:]]; runpy.run_module('constitutional', run_name='__main__')",
            *command[3:],
        ]
    proc = started(command, out)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "terminated" in stderr and "rerun the same command" in stderr and "Traceback" not in stderr
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["finished"] is not None
    kept = ids(out)  # every line a whole record
    assert 3 <= len(kept) < 40 and manifest["counts"]["records"] == len(kept)
    assert subprocess.run(command, capture_output=True).returncode == 0  # the same command resumes
    assert sorted(ids(out)) == sorted(f"p{i}" for i in range(40))
