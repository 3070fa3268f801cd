"""scripts/install compiles llama-cpp-python through scripts/with-progress: a line every few seconds with the time so
far and the build's step, and the end of the log when the build fails."""

import os
import re
import subprocess

from tests.helpers import ROOT

WITH_PROGRESS = ROOT / "scripts" / "with-progress"


def with_progress(tmp_path, script):
    env = {**os.environ, "PROGRESS_EVERY": "0.3"}
    command = ["bash", str(WITH_PROGRESS), "building x", str(tmp_path / "build.log"), "--", "bash", "-c", script]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)


def test_a_long_build_says_how_long_it_has_run_and_its_step(tmp_path):
    result = with_progress(
        tmp_path,
        'echo "-- Configuring"; sleep 0.7; echo "[ 12/345] Building C object ggml.c.o"; sleep 0.7; '
        'echo "[ 55%] Linking"; sleep 0.5',
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(re.fullmatch(r"building x: \dm\d\ds so far; now: .+", line) for line in lines[:-1]), lines
    steps = " ".join(lines)
    assert "now: -- Configuring" in steps and "now: [ 12/345] Building C object" in steps and "now: [ 55%] Linking" in steps
    assert re.fullmatch(r"building x: done in \dm\d\ds \(log: .*build\.log\)", lines[-1])


def test_a_failed_build_shows_the_end_of_its_log_and_its_exit_code(tmp_path):
    result = with_progress(tmp_path, 'echo "[ 40%] Building"; echo "error: unsupported instruction"; exit 3')
    assert result.returncode == 3
    assert "building x failed after" in result.stderr and "(exit 3)" in result.stderr
    assert "error: unsupported instruction" in result.stderr


def test_the_install_script_builds_through_it():
    install = (ROOT / "scripts" / "install").read_text()
    assert re.search(r'bash scripts/with-progress "building llama-cpp-python" .*\\\n\s+"\$\{pip\[@\]\}" wheel -v', install)
