"""Files planted where cai writes: a symlink at a run directory's file is refused, never followed (nothing outside
is touched); an `-o` that is a named pipe is written to, never renamed over, and a symlink given as `-o` is refused."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import DATA, clear_error, write

SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"
RUN_FILES = ["run.json", "records.jsonl", "eval.jsonl", "report.json", "report.html", "labels.jsonl", "batches.json"]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=160)


def prompts(tmp_path):
    return write(tmp_path / "p.jsonl", "".join(json.dumps({"id": f"p{i}", "prompt": f"question {i}"}) + "\n" for i in range(3)))


# -- 1. a symlink at a run directory's file ---------------------------------------------------------------------------


def test_a_symlink_planted_at_records_jsonl_is_refused_and_the_file_it_points_to_is_untouched(tmp_path):
    outside = write(tmp_path / "outside.jsonl", '{"id": "keep"}\n{"id": "a line cut off')  # a "torn" last line
    out = tmp_path / "d"
    out.mkdir()
    (out / "records.jsonl").symlink_to(outside)
    result = cai("run", prompts(tmp_path), "-m", SCRIPTED, "--judge", "none", "-o", out, "-q")
    clear_error(result, f"{out / 'records.jsonl'}", "symbolic link")
    assert outside.read_text() == '{"id": "keep"}\n{"id": "a line cut off'  # not truncated, nothing appended
    assert (out / "records.jsonl").is_symlink()


@pytest.mark.parametrize("name", RUN_FILES)
def test_a_symlink_planted_at_any_run_file_is_refused_before_the_run_and_the_eval(tmp_path, name):
    outside = write(tmp_path / "outside", "keep me\n")
    run = ("run", prompts(tmp_path), "-m", SCRIPTED, "--judge", "none", "-q")
    out, evaluated = tmp_path / "d", tmp_path / "e"
    out.mkdir()
    (out / name).symlink_to(outside)
    clear_error(cai(*run, "-o", out), str(out / name), "symbolic link")
    assert not (out / "records.jsonl").exists() or name == "records.jsonl"  # refused before any record was written
    assert cai(*run, "-o", evaluated, "--no-eval").exit_code == 0
    if name not in ("run.json", "records.jsonl"):
        (evaluated / name).unlink(missing_ok=True)
        (evaluated / name).symlink_to(outside)
        clear_error(cai("eval", evaluated, "--judge", "none", "--scorer", "none", "-q"), str(evaluated / name), "symbolic link")
    assert outside.read_text() == "keep me\n" and (out / name).is_symlink()


# -- 2. -o that is not a regular file ---------------------------------------------------------------------------------


def exported_run(tmp_path):
    out = tmp_path / "run"
    assert cai("run", prompts(tmp_path), "-m", SCRIPTED, "--judge", "none", "-o", out, "-q").exit_code == 0
    return out


@pytest.mark.parametrize("through_a_link", [False, True], ids=["pipe", "link-to-pipe"])  # a link: as /dev/stdout is
def test_export_to_a_named_pipe_writes_into_the_pipe_and_leaves_it_a_pipe(tmp_path, through_a_link):
    out, fifo = exported_run(tmp_path), tmp_path / "pipe"
    os.mkfifo(fifo)
    named = tmp_path / "link" if through_a_link else fifo
    if through_a_link:
        named.symlink_to(fifo)
    only = ("--only", "genuine,non_compliant,superficial,unchanged,regressed,evasive")
    assert cai("export", out, "--format", "sft", *only, "-o", tmp_path / "plain.jsonl").exit_code == 0
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        result = cai("export", out, "--format", "sft", *only, "-o", named)
        received, _ = reader.communicate(timeout=20)
    finally:
        reader.kill()
    assert result.exit_code == 0, result.output
    assert received.decode() == (tmp_path / "plain.jsonl").read_text() and received
    assert fifo.is_fifo() and named.is_symlink() == through_a_link


@pytest.mark.parametrize("command", [("schema", "record"), ("constitution", "schema")])
def test_o_a_symlink_to_a_file_outside_is_refused_not_replaced(tmp_path, command):
    outside = write(tmp_path / "outside.json", "keep me\n")
    link = tmp_path / "link.json"
    link.symlink_to(outside)
    clear_error(cai(*command, "-o", link), str(link), "symbolic link")
    assert link.is_symlink() and outside.read_text() == "keep me\n"


def test_a_named_pipe_planted_in_a_run_directory_is_refused_not_replaced(tmp_path):
    out = exported_run(tmp_path)
    (out / "report.html").unlink()
    os.mkfifo(out / "report.html")
    clear_error(cai("report", out, "--format", "html"), str(out / "report.html"), "named pipe")
    assert (out / "report.html").is_fifo()
