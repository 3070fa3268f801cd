"""An interrupted `cai redteam` (kill -9, Ctrl-C) run again with the same command goes on where it stopped: the attempts
already written are replayed from attempts.jsonl, not asked of the eval again, and the files it ends with are those
of a run never interrupted."""

import json
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.redteam.target import Target
from tests.helpers import clear_error

ARGS = ["redteam", "--limit", 4, "--budget", 60, "--scorer", "fast", "--seed", 3, "-q"]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The run never interrupted."""
    out = tmp_path_factory.mktemp("whole") / "out"
    assert cai(*ARGS, "-o", out).exit_code == 0
    return out


def same_files(out, whole):
    for name in ("attempts.jsonl", "found.jsonl"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    report, expected = (json.loads((d / "report.json").read_text()) for d in (out, whole))
    for timing in ("created", "seconds"):
        report.pop(timing), expected.pop(timing)
    assert report == expected


def count_queries(monkeypatch):
    asked = []
    query = Target.query

    async def counted(self, seed, revision, item_id):
        asked.append(item_id)
        return await query(self, seed, revision, item_id)

    monkeypatch.setattr(Target, "query", counted)
    return asked


def test_a_resume_asks_only_the_queries_not_yet_written_and_ends_as_a_whole_run(whole, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "job.json").write_bytes((whole / "job.json").read_bytes())
    lines = (whole / "attempts.jsonl").read_text("utf-8").splitlines(keepends=True)
    kept = len(lines) // 3
    (out / "attempts.jsonl").write_text("".join(lines[:kept]) + lines[kept][:50], "utf-8")  # a kill mid-line
    asked = count_queries(monkeypatch)
    result = cai(*ARGS, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"resuming: {kept} queries already in attempts.jsonl are replayed" in result.output
    assert len(asked) == len(lines) - kept
    recorded = {(a["seed"], a["query"]) for a in map(json.loads, lines[:kept])}
    assert not {tuple(item.rsplit("-q", 1)) for item in asked} & {(s, str(q)) for s, q in recorded}
    same_files(out, whole)
    asked.clear()
    assert cai(*ARGS, "-o", out).exit_code == 0  # a finished red team run again asks nothing
    assert asked == []
    same_files(out, whole)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_a_red_team_killed_mid_way_resumes_with_no_query_repeated(whole, tmp_path, monkeypatch, stop):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "constitutional", *map(str, ARGS), "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    attempts, deadline = out / "attempts.jsonl", time.monotonic() + 60
    while time.monotonic() < deadline and (not attempts.exists() or attempts.read_text().count("\n") < 70):
        time.sleep(0.01)
    assert proc.poll() is None, "the red team ended before it could be interrupted"
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (-signal.SIGKILL if stop == signal.SIGKILL else 130), err
    written = attempts.read_text().count("\n")
    assert written < (whole / "attempts.jsonl").read_text().count("\n")
    asked = count_queries(monkeypatch)
    result = cai(*ARGS, "-o", out)
    assert result.exit_code == 0, result.output
    assert "resuming:" in result.output
    assert len(asked) + written == (whole / "attempts.jsonl").read_text().count("\n")
    same_files(out, whole)


def test_a_directory_of_another_job_is_not_resumed(whole, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "job.json").write_bytes((whole / "job.json").read_bytes())
    (out / "attempts.jsonl").write_bytes((whole / "attempts.jsonl").read_bytes())
    args = [a if a != 3 else 4 for a in ARGS]  # another --seed
    clear_error(cai(*args, "-o", out), "holds a red team of a different job", "'3' → '4'")
    (out / "job.json").unlink()
    clear_error(cai(*ARGS, "-o", out), "holds attempts.jsonl but no job.json", "choose a new --out")
