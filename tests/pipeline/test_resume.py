import json
import os
import signal
import subprocess
import sys
import time

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import DATA, write


def scripted(tmp_path, delay=0.0):
    base = (DATA / "scripted_basic.yaml").read_text()
    log = tmp_path / "calls.log"
    path = write(tmp_path / "scripted.yaml", base + f"\ndelay: {delay}\ncall_log: {log}\n")
    return f"scripted:{path}", log


def prompts(tmp_path, n):
    return write(tmp_path / "p.jsonl", "".join(json.dumps({"id": f"p{i}", "prompt": f"question {i}"}) + "\n" for i in range(n)))


def calls(log):
    return len(log.read_text().splitlines()) if log.exists() else 0


def ids(out):
    return [json.loads(line)["id"] for line in (out / "records.jsonl").read_text().splitlines()]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args] + ["--no-eval", "-q"])


def test_resume_skips_finished_prompts_and_never_duplicates(tmp_path):
    spec, log = scripted(tmp_path)
    path, out = prompts(tmp_path, 6), tmp_path / "run"
    assert cai("run", path, "-m", spec, "-o", out, "--limit", "3").exit_code == 0
    assert calls(log) == 9
    result = cai("run", path, "-m", spec, "-o", out)
    assert result.exit_code == 0 and "3 prompts already done" in result.output
    assert sorted(ids(out)) == [f"p{i}" for i in range(6)] and calls(log) == 18
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["counts"]["records"] == 6 and manifest["usage"]["calls"] == 18


def test_rerunning_a_finished_job_makes_zero_model_calls(tmp_path):
    spec, log = scripted(tmp_path)
    path = prompts(tmp_path, 4)
    assert cai("run", path, "-m", spec, "-o", tmp_path / "a").exit_code == 0
    before = calls(log)
    assert cai("run", path, "-m", spec, "-o", tmp_path / "a").exit_code == 0  # same directory: nothing left
    assert cai("run", path, "-m", spec, "-o", tmp_path / "b").exit_code == 0  # new directory: all from the cache
    assert calls(log) == before
    again = [json.loads(line) for line in (tmp_path / "b" / "records.jsonl").read_text().splitlines()]
    assert all(r["usage"]["calls"] == 0 and r["usage"]["cache_hits"] == 3 for r in again)
    assert cai("run", path, "-m", spec, "-o", tmp_path / "c", "--no-cache").exit_code == 0
    assert calls(log) == before + 12


def test_a_changed_job_is_refused_unless_forced(tmp_path, short_constitution):
    spec, _ = scripted(tmp_path)
    path, out = prompts(tmp_path, 2), tmp_path / "run"
    assert cai("run", path, "-m", spec, "-o", out, "--limit", "1").exit_code == 0
    result = cai("run", path, "-m", spec, "-o", out, "-c", short_constitution, "--rounds", "2")
    assert result.exit_code == 2 and "constitution.sha256" in result.output and "parameters.rounds" in result.output
    assert len(ids(out)) == 1
    assert cai("run", path, "-m", spec, "-o", out, "-c", short_constitution, "--rounds", "2", "--force").exit_code == 0
    assert sorted(ids(out)) == ["p0", "p1"]


def test_a_torn_last_line_is_repaired(tmp_path):
    spec, _ = scripted(tmp_path)
    path, out = prompts(tmp_path, 3), tmp_path / "run"
    assert cai("run", path, "-m", spec, "-o", out, "--limit", "2").exit_code == 0
    with (out / "records.jsonl").open("a") as fh:
        fh.write('{"id": "p2", "prompt": "quest')  # what a crash mid-write leaves
    result = cai("run", path, "-m", spec, "-o", out)
    assert result.exit_code == 0 and "torn last line" in result.output
    assert sorted(ids(out)) == ["p0", "p1", "p2"]


def test_kill_9_then_rerun_finishes_with_every_record_once(tmp_path):
    spec, log = scripted(tmp_path, delay=0.02)
    n, concurrency = 60, 4
    path, out = prompts(tmp_path, n), tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "constitutional",
        "run",
        str(path),
        "-m",
        spec,
        "-o",
        str(out),
        "--concurrency",
        str(concurrency),
        "--no-eval",
        "-q",
    ]
    env = dict(os.environ)
    for attempt in range(3):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 30
        records = out / "records.jsonl"
        target = 10 * (attempt + 1)
        while time.monotonic() < deadline and (not records.exists() or len(records.read_text().splitlines()) < target):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert subprocess.run(command, env=env).returncode == 0
    written = ids(out)
    assert sorted(written) == sorted(f"p{i}" for i in range(n)) and len(written) == n
    # Calls that had returned before a kill are cached; only what was in flight is repeated.
    assert calls(log) <= n * 3 + 3 * concurrency * 3


def test_rerunning_a_finished_job_with_its_eval_makes_zero_model_calls(tmp_path):
    spec, log = scripted(tmp_path)
    path, out = prompts(tmp_path, 3), tmp_path / "run"
    first = CliRunner().invoke(app, ["run", str(path), "-m", spec, "-o", str(out), "-q"])  # the model is also the judge
    assert first.exit_code in (0, 1), first.output
    assert (out / "eval.jsonl").exists()
    before = calls(log)
    again = CliRunner().invoke(app, ["run", str(path), "-m", spec, "-o", str(out), "-q"])
    assert again.exit_code == first.exit_code
    assert calls(log) == before


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path):
    spec, _ = scripted(tmp_path, delay=0.05)
    path, out = prompts(tmp_path, 40), tmp_path / "run"
    command = [sys.executable, "-m", "constitutional", "run", str(path), "-m", spec, "-o", str(out), "--no-eval", "-q"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    records = out / "records.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not records.exists() or len(records.read_text().splitlines()) < 3):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "rerun the same command" in stderr and "Traceback" not in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert subprocess.run(command).returncode == 0
    assert sorted(ids(out)) == sorted(f"p{i}" for i in range(40))
