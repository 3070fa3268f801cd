"""`cai report DIR --open`, and what `cai report` says about a folder that is not a run."""

import os
import subprocess
import sys

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT
from tests.reports.report_fixtures import eval_dir, labelled_rows

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def cai_with_browser(tmp_path, browser_script: str, *args):
    """`cai` in its own process (the standard library remembers the browsers it found), on a machine whose only
    browser is `browser_script`: no display, and nothing else on PATH that could open a page."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    browser = bin_dir / "browser"
    browser.write_text(f"#!/bin/sh\n{browser_script}\n")
    browser.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "TERM")}
    env.update(PATH=str(bin_dir), BROWSER=str(browser), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "constitutional", *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


def test_open_writes_report_html_when_missing_and_opens_it(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    (out / "report.html").unlink()
    opened = tmp_path / "opened.txt"
    result = cai_with_browser(tmp_path, f'printf %s "$1" > {opened}', "report", out, "--open")
    assert result.returncode == 0, result.stderr
    url = (out / "report.html").resolve().as_uri()
    assert opened.read_text() == url
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert result.stdout.strip() == f"opened {url}"


def test_open_rewrites_a_report_html_older_than_the_eval(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    html = out / "report.html"
    html.write_text("stale")
    os.utime(html, (1, 1))
    result = cai_with_browser(tmp_path, "exit 0", "report", out, "--open")
    assert result.returncode == 0, result.stderr
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_open_without_a_browser_says_where_the_file_is_and_how_to_copy_it(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    result = cai_with_browser(tmp_path, "exit 3", "report", out, "--open")
    assert result.returncode == 0, result.stderr
    path = (out / "report.html").resolve()
    assert "opened" not in result.stdout and "no browser could open report.html" in result.stdout
    assert path.as_uri() in result.stdout.split()
    scp = next(line.split() for line in result.stdout.splitlines() if line.strip().startswith("scp "))
    assert scp[1].endswith(f":{path}") and scp[2] == "."


def test_open_refuses_a_text_format(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    result = cai("report", out, "--open", "--format", "json")
    assert result.exit_code == 2 and "--open" in result.output


def test_a_path_that_does_not_exist(tmp_path):
    result = cai("report", tmp_path / "nope")
    assert result.exit_code == 2 and f"{tmp_path / 'nope'} does not exist" in result.output
    assert f"cai eval {tmp_path / 'nope'}" not in result.output  # not a command that would fail
    result = cai("report", "diff", tmp_path / "nope", tmp_path / "nope2")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_a_folder_that_is_not_a_run_says_how_to_make_one_and_that_works(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    result = cai("report", folder)
    assert result.exit_code == 2
    assert f"{folder} is not a run directory: it has no records.jsonl or eval.jsonl" in result.output
    assert f"`cai run PROMPTS --out {folder}`" in result.output and f"`cai eval FILE.jsonl --out {folder}`" in result.output
    revisions = tmp_path / "revisions.jsonl"
    revisions.write_text(
        '{"id": "a", "prompt": "Sort a list in Python", "draft": "Use sort().", "revision": "Use sorted(xs)."}\n'
    )
    assert cai("eval", revisions, "--judge", "none", "--out", folder, "-q").exit_code == 0
    assert cai("report", folder).exit_code == 0


def test_a_run_without_an_eval_says_run_cai_eval_and_that_works(tmp_path, scripted_spec):
    run = tmp_path / "run"
    made = cai("run", QUICKSTART, "--model", scripted_spec, "--out", run, "--limit", "2", "--no-eval", "-q")
    assert made.exit_code == 0, made.output
    result = cai("report", run)
    assert result.exit_code == 2 and f"run `cai eval {run}`" in result.output
    assert cai("eval", run, "--judge", "none", "-q").exit_code == 0
    assert cai("report", run).exit_code == 0


def test_an_eval_that_did_not_finish(tmp_path):
    folder = tmp_path / "audit"
    folder.mkdir()
    (folder / "eval.jsonl").write_text("")
    result = cai("report", folder)
    assert result.exit_code == 2 and "has eval.jsonl but no report.json" in result.output
    assert f"`cai eval FILE.jsonl --out {folder}`" in result.output


def test_a_file_instead_of_a_folder(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    result = cai("report", out / "report.json")
    assert result.exit_code == 2 and "is a file, not a run directory" in result.output
    assert f"give its folder: `cai report {out}`" in result.output
    revisions = tmp_path / "out.jsonl"  # the eval's input, outside any run
    result = cai("report", revisions)
    assert result.exit_code == 2 and f"`cai eval {revisions} --out DIR`" in result.output
