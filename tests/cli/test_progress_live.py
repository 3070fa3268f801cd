"""Progress while a job runs, as a person sees it: on a terminal a spinner and the step in flight before any record
has finished; in a log (stderr a pipe) a progress line every CONSTITUTIONAL_PROGRESS_EVERY seconds."""

import os
import pty
import re
import select
import subprocess
import sys

from tests.helpers import DATA, ROOT, write

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def slow_script(tmp_path, delay):
    """The pipeline tests' canned replies, each call taking `delay` seconds."""
    return write(tmp_path / "slow.yaml", f"delay: {delay}\n" + (DATA / "scripted_basic.yaml").read_text())


def run_command(tmp_path, delay):
    spec = f"scripted:{slow_script(tmp_path, delay)}"
    return [sys.executable, "-m", "constitutional", "run", str(QUICKSTART), "-m", spec, "--no-eval", "-o", str(tmp_path / "run")]


def read_all(fd, proc) -> str:
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    return ANSI.sub("", out.decode("utf-8", errors="replace"))


def on_a_terminal(tmp_path, delay) -> str:
    """What a run shows on an 80-column terminal (its stderr a pty), escape codes removed; the run must succeed."""
    main, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    proc = subprocess.Popen(
        run_command(tmp_path, delay), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal, env=env
    )
    os.close(terminal)
    shown = read_all(main, proc)
    assert proc.returncode == 0, shown
    return shown


def test_a_terminal_shows_a_spinner_and_the_step_before_the_first_record(tmp_path):
    shown = on_a_terminal(tmp_path, 0.3)
    before_first = shown.split("1/4")[0]
    assert "now: drafting 4" in before_first and "0/4" in before_first, before_first
    spinners = set(re.findall(r"([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]) run ", before_first))
    assert len(spinners) > 1, before_first  # it turns


def test_a_log_gets_a_progress_line_every_few_seconds(tmp_path):
    env = {**os.environ, "COLUMNS": "80", "CONSTITUTIONAL_PROGRESS_EVERY": "0.25"}
    result = subprocess.run(run_command(tmp_path, 0.3), capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("run: ")]
    assert len(lines) >= 2, result.stderr
    assert all(re.fullmatch(r"run: [0-4]/4 after \d+s · errors 0 · calls .* · \$0\.0000( · now: .+)?", x) for x in lines), lines
    assert any("now: drafting 4" in line for line in lines), lines


def test_a_log_by_default_waits_30_seconds_for_its_first_line(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "CONSTITUTIONAL_PROGRESS_EVERY"}
    result = subprocess.run(run_command(tmp_path, 0.05), capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and "run: 0/4" not in result.stderr, result.stderr


def test_the_summary_wraps_at_word_boundaries_in_an_80_column_terminal(tmp_path):
    shown = on_a_terminal(tmp_path, 0.01).replace("\r\n", "\n")
    summary = shown[shown.index("wrote 4 records") :].splitlines()
    assert len(summary) > 1 and all(len(line) <= 80 or len(line.split()) == 1 for line in summary), summary
    assert summary[1].startswith("    ")  # later lines hang under the first
    joined = " ".join(" ".join(summary).split())
    assert "(0 with errors, 0 prompt lines skipped); 12 model requests (0 retries)" in joined, joined
