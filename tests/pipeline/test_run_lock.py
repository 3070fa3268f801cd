"""One writer per run directory (DIR/run.lock): a second `cai run` on the same --out is refused and names the first;
a lock left by a process that died is taken over; `cai eval`, `export` and `report` read a directory being written."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.pipeline.lock import LOCK_NAME, lock_run_dir
from tests.pipeline.test_resume import ids, prompts, scripted


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def run_command(path, spec, out, *extra):
    return [sys.executable, "-m", "constitutional", "run", str(path), "-m", spec, "-o", str(out), "--no-eval", "-q", *extra]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def second_run_while_the_first_is_stopped(tmp_path, meddle=lambda out: None):
    """Start a run of 40 prompts, stop it (SIGSTOP) once it has written a record, call `meddle(out)`, run the same
    command again, then let the first finish: the first process, the second's result and the run directory."""
    spec, _ = scripted(tmp_path, delay=0.01)
    path, out = prompts(tmp_path, 40), tmp_path / "run"
    command = run_command(path, spec, out, "--concurrency", "2")
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for_records(out, 1), "the first run wrote no record"
        first.send_signal(signal.SIGSTOP)  # it holds the lock, mid-job, for as long as the second takes
        meddle(out)
        # its own reply cache: a process stopped mid-write to the shared one would hold that up too
        second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=own_cache(tmp_path))
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    return first, second, out


def test_two_runs_on_one_out_never_write_a_record_twice(tmp_path):
    first, second, out = second_run_while_the_first_is_stopped(tmp_path)
    refused = second.stderr
    assert second.returncode == 2, refused
    assert f"pid {first.pid} on host {socket.gethostname()}" in refused, refused
    assert "another --out" in refused and "wait" in refused and "Traceback" not in refused
    written = ids(out)
    assert len(written) == len(set(written)) == 40  # every id once
    assert (out / LOCK_NAME).read_text() == ""  # released cleanly: the next run finds no stale owner


def wait_for_records(out, n: int) -> bool:
    """Whether the run writing `out` has written `n` records; only a stuck run takes the five minutes."""
    records, deadline = out / "records.jsonl", time.monotonic() + 300
    while not (records.exists() and len(records.read_text().splitlines()) >= n):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def own_cache(tmp_path) -> dict:
    return {**os.environ, "CONSTITUTIONAL_CACHE_DIR": str(tmp_path / "second-cache")}


def test_a_held_lock_refuses_a_second_writer_with_exit_2(tmp_path):
    spec, log = scripted(tmp_path)
    path, out = prompts(tmp_path, 3), tmp_path / "run"
    out.mkdir()
    with lock_run_dir(out, warn=print):
        result = cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q")
        assert result.exit_code == 2, result.output
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in result.output
        assert not (out / "records.jsonl").exists() and not log.exists()  # refused before any call or write
    assert cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q").exit_code == 0  # free once released


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path):
    spec, _ = scripted(tmp_path)
    path, out = prompts(tmp_path, 3), tmp_path / "run"
    out.mkdir()
    pid = dead_pid()
    (out / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": "2025-01-01T00:00:00+00:00"}))
    result = cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q")
    assert result.exit_code == 0, result.output
    assert "stale lock" in result.output and f"pid {pid}" in result.output and "no longer running" in result.output
    assert sorted(ids(out)) == ["p0", "p1", "p2"]
    again = cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q")
    assert again.exit_code == 0 and "stale lock" not in again.output


def test_a_symlink_planted_as_the_lock_file_is_not_followed(tmp_path):
    spec, _ = scripted(tmp_path)
    path, out = prompts(tmp_path, 1), tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / LOCK_NAME).symlink_to(victim)
    result = cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q")
    assert result.exit_code == 2 and "symlink" in result.output
    assert victim.read_text() == "keep me"


def test_eval_export_and_report_read_the_complete_lines_of_a_run_being_written(tmp_path):
    spec, _ = scripted(tmp_path)
    path, out = prompts(tmp_path, 4), tmp_path / "run"
    assert cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q").exit_code == 0
    records = out / "records.jsonl"
    with records.open("a") as fh:
        fh.write('{"id": "p9", "prompt": "a record still being wr')  # the writer is mid-line
    before = records.read_bytes()
    with lock_run_dir(out, warn=print):  # as a `cai run` still appending holds it
        evaluated = cai("eval", out, "--judge", "none", "-q")
        assert evaluated.exit_code == 0, evaluated.output
        assert "cut off" in evaluated.output
        assert len((out / "eval.jsonl").read_text().splitlines()) == 4
        exported = cai(
            "export", out, "--format", "sft", "--only", "genuine,superficial,non_compliant,unchanged,evasive,regressed"
        )
        assert exported.exit_code == 0, exported.output
        shown = cai("report", out, "--format", "json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["total"] == 4
    assert records.read_bytes() == before  # readers never repair or truncate what the writer owns


def test_a_resume_repairs_records_written_twice_by_two_runs_before_the_lock(tmp_path):
    spec, log = scripted(tmp_path)
    path, out = prompts(tmp_path, 4), tmp_path / "run"
    assert cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q").exit_code == 0
    records = out / "records.jsonl"
    lines = records.read_text().splitlines(keepends=True)
    records.write_text("".join(lines + lines[::-1]))  # what two unlocked runs on one --out left: every id twice
    assert cai("eval", out, "--judge", "none", "-q").exit_code == 2  # refused: duplicate ids
    calls = log.read_text()
    result = cai("run", path, "-m", spec, "-o", out, "--no-eval", "-q")
    assert result.exit_code == 0 and "removed 4 lines repeating an id" in result.output
    assert records.read_text() == "".join(lines) and log.read_text() == calls  # the first of each kept; no call made
    assert cai("eval", out, "--judge", "none", "-q").exit_code == 0
