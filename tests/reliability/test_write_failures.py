"""Files that cannot be written or read, and a run.json of the wrong shape: a clear message and exit 2, never a
traceback (unless --debug). A full disk or a read-only folder is simulated in-process, so these run anywhere,
as any user (root ignores permissions): os.open refuses to create files, writes and fsync fail with the errno
the system would give. tests/pipeline/test_disk.py does the same with a real tiny tmpfs where it can mount one."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app, global_options_first
from constitutional.rundir import RecordWriter
from tests.helpers import DATA, clear_error, write

SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"


def cai(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def prompts(tmp_path, n=12):
    return write(tmp_path / "p.jsonl", "".join(json.dumps({"id": f"p{i}", "prompt": f"question {i}"}) + "\n" for i in range(n)))


def run_args(tmp_path, out, *more):
    return ("run", prompts(tmp_path), "-m", SCRIPTED, "-o", out, "--judge", "none", "-q", *more)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def failure(code: int, path) -> OSError:
    return OSError(code, os.strerror(code), str(path))


class Disk:
    """The folder `folder`, once `broken` (after `after` records, or set by the test), with writes failing as `code`
    says: `new_files` refused (a read-only or unwritable folder), `appends` to records.jsonl failing (a read-only or
    full disk), `flushes` (fsync) failing (a read-only or full disk: what was written cannot be kept)."""

    def __init__(self, monkeypatch, folder, code, *, new_files=True, appends=True, flushes=True, after=3):
        self.folder, self.code, self.broken, self.written = str(folder), code, False, 0
        real_open, real_fsync, real_write = os.open, os.fsync, RecordWriter.write
        tmpfile = getattr(os, "O_TMPFILE", -1)

        def guarded_open(path, flags, *args, **kwargs):
            creates = flags & os.O_CREAT or (tmpfile != -1 and flags & tmpfile == tmpfile)
            if self.broken and new_files and creates and self.folder in (os.path.dirname(str(path)), str(path)):
                raise failure(code, path)
            return real_open(path, flags, *args, **kwargs)

        def guarded_fsync(fd):
            if self.broken and flushes:
                raise OSError(code, os.strerror(code))
            return real_fsync(fd)

        def write_record(writer, data):
            if self.broken and appends:
                raise OSError(code, os.strerror(code))
            real_write(writer, data)
            self.written += 1
            self.broken = self.broken or self.written >= after

        monkeypatch.setattr(os, "open", guarded_open)
        monkeypatch.setattr(os, "fsync", guarded_fsync)
        monkeypatch.setattr(RecordWriter, "write", write_record)


# -- a run directory that turns read-only, or fills up, mid-run -----------------------------------------------------


def test_read_only_mid_run_stops_with_the_file_and_the_fix_and_keeps_every_record(tmp_path, monkeypatch):
    out = tmp_path / "run"
    Disk(monkeypatch, out, errno.EROFS)  # a remount read-only: appends fail too
    result = cai(*run_args(tmp_path, out, "--concurrency", "1"))
    clear_error(result, "records.jsonl", "Read-only file system", "make it writable", "every record already written is intact")
    assert [r["id"] for r in lines(out / "records.jsonl")] == ["p0", "p1", "p2"]
    assert json.loads((out / "run.json").read_text())["status"] != "finished"  # its last write failed: still running
    monkeypatch.undo()
    assert cai(*run_args(tmp_path, out)).exit_code == 0  # the same command resumes and finishes
    assert sorted(r["id"] for r in lines(out / "records.jsonl")) == sorted(f"p{i}" for i in range(12))


def test_a_folder_made_unwritable_mid_run_is_an_error_not_a_run_reported_done(tmp_path, monkeypatch):
    """chmod a-w DIR: records.jsonl, already open, takes every record; run.json cannot be replaced at the end. That is
    exit 2 naming run.json, not exit 0 with run.json still saying `running` (nor the eval's traceback after it)."""
    out = tmp_path / "run"
    Disk(monkeypatch, out, errno.EACCES, appends=False, flushes=False)
    result = cai("run", prompts(tmp_path), "-m", SCRIPTED, "-o", out, "-q", "--judge", "none", "--concurrency", "1")
    clear_error(result, "run.json", "Permission denied", "chmod", "rerun the same command")
    assert len(lines(out / "records.jsonl")) == 12
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    assert not (out / "eval.jsonl").exists()


def test_a_full_disk_mid_run_marks_the_run_failed_when_run_json_can_still_be_written(tmp_path, monkeypatch):
    out = tmp_path / "run"
    Disk(monkeypatch, out, errno.ENOSPC, new_files=False, flushes=False)  # run.json, smaller, still fits
    result = cai(*run_args(tmp_path, out, "--concurrency", "1", "--no-eval"))
    clear_error(result, "records.jsonl", "No space left on device", "free disk space")
    assert len(lines(out / "records.jsonl")) == 3
    assert json.loads((out / "run.json").read_text())["status"] == "failed"


# -- records.jsonl in the way -----------------------------------------------------------------------------------------


def finished_run(tmp_path):
    out = tmp_path / "run"
    assert cai(*run_args(tmp_path, out)).exit_code == 0
    return out


def test_records_jsonl_that_is_a_directory(tmp_path):
    out = finished_run(tmp_path)
    (out / "records.jsonl").unlink()
    (out / "records.jsonl").mkdir()
    clear_error(cai(*run_args(tmp_path, out)), "records.jsonl", "Is a directory", "move it away")


def test_records_jsonl_that_is_read_only(tmp_path, monkeypatch):
    out = finished_run(tmp_path)
    with (out / "records.jsonl").open("ab") as fh:
        fh.write(b'{"id": "torn')  # a crash's torn line, which a resume must cut off
    records, real_open, real_os_open = str(out / "records.jsonl"), io.open, os.open

    def read_only(file, mode="r", *args, **kwargs):
        if str(file) == records and any(c in mode for c in "wa+"):
            raise failure(errno.EACCES, file)
        return real_open(file, mode, *args, **kwargs)

    def read_only_fd(file, flags, *args, **kwargs):  # records.jsonl is opened with os.open (O_NOFOLLOW) to be written
        if str(file) == records and flags & (os.O_WRONLY | os.O_RDWR):
            raise failure(errno.EACCES, file)
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(io, "open", read_only)
    monkeypatch.setattr(os, "open", read_only_fd)
    clear_error(cai(*run_args(tmp_path, out)), "records.jsonl", "Permission denied", "chmod u+rw")


# -- a full disk during eval, export and the HTML report --------------------------------------------------------------


@pytest.mark.parametrize(
    "command, written",
    [
        (["eval", "{out}", "--judge", "none", "-q"], "eval.jsonl"),
        (
            ["export", "{out}", "-f", "sft", "--only", "genuine,evasive,non_compliant,superficial,unchanged,regressed"],
            "sft.jsonl",
        ),
        (["report", "{out}", "--format", "html"], "report.html"),
    ],
)
def test_a_full_disk_while_writing_the_eval_an_export_or_the_report(tmp_path, monkeypatch, command, written):
    out = finished_run(tmp_path)
    assert cai("eval", out, "--judge", "none", "-q").exit_code in (0, 1)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    Disk(monkeypatch, out, errno.ENOSPC, new_files=False).broken = True  # new files are made; writing them fails
    result = cai(*[part.format(out=out) for part in command])
    clear_error(result, written, "No space left on device", "free disk space")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before  # whole files or none: nothing half-written, no temporary left


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    out = finished_run(tmp_path)
    Disk(monkeypatch, out, errno.ENOSPC).broken = True
    for result in (
        cai("--debug", "report", out, "--format", "html"),
        cai("report", out, "--format", "html", env={"CONSTITUTIONAL_DEBUG": "1"}),
    ):
        cause = result.exception.__context__  # the message's error, raised with the failure it was made of
        assert "report.html" in str(result.exception) and cause.errno == errno.ENOSPC
        assert not result.exception.__suppress_context__


def test_a_bug_is_one_line_and_exit_3_without_debug(tmp_path, monkeypatch):
    out = finished_run(tmp_path)
    monkeypatch.setattr("constitutional.cli.report.terminal_summary", lambda report: 1 / 0)
    result = cai("report", out)
    assert result.exit_code == 3 and isinstance(result.exception, SystemExit)
    assert "internal error: ZeroDivisionError" in result.output and "--debug" in result.output
    assert isinstance(cai("--debug", "report", out).exception, ZeroDivisionError)


# -- run.json of the wrong shape --------------------------------------------------------------------------------------

WRONG_SHAPES = {
    "a list": [],
    "a list of values": [1, 2],
    "text": "hello",
    "started a number": {"started": 5, "finished": None},
    "constitution a string": {"constitution": "default"},
    "usage with text": {"usage": {"calls": "many"}},
    "counts a list": {"counts": [1]},
    "run_seconds text": {"run_seconds": "soon", "finished": "2024-01-01T00:00:00+00:00"},
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    base = tmp_path_factory.mktemp("base")
    out = base / "run"
    assert cai(*run_args(base, out)).exit_code == 0
    return base, out


@pytest.mark.parametrize("shape", WRONG_SHAPES)
@pytest.mark.parametrize("command", ["run", "run --force", "eval", "report", "report html", "export"])
def test_run_json_of_the_wrong_shape(tmp_path, evaluated, shape, command):
    base, source = evaluated
    out = tmp_path / "run"
    shutil.copytree(source, out)
    value = WRONG_SHAPES[shape]
    if isinstance(value, dict):
        value = {**json.loads((source / "run.json").read_text()), **value}
    (out / "run.json").write_text(json.dumps(value))
    args = {
        "run": run_args(base, out),
        "run --force": run_args(base, out, "--force"),
        "eval": ("eval", out, "--judge", "none", "-q"),
        "report": ("report", out),
        "report html": ("report", out, "--format", "html"),
        "export": ("export", out, "-f", "sft"),
    }[command]
    result = cai(*args)
    if command == "export":  # an export reads records.jsonl and eval.jsonl alone: run.json is not its business
        assert result.exit_code == 0, result.output
        return
    clear_error(result, "run.json", "is not a run manifest", "move it away")


def test_debug_after_the_command_works_as_before_it():
    assert global_options_first(["report", "out", "--debug"]) == ["--debug", "report", "out"]
    assert global_options_first(["run", "p.txt", "--", "--debug"]) == ["run", "p.txt", "--", "--debug"]
    typed = subprocess.run(
        [sys.executable, "-m", "constitutional", "schema", "labels", "--debug"], capture_output=True, text=True, check=False
    )
    assert typed.returncode == 0 and '"properties"' in typed.stdout, typed.stderr
