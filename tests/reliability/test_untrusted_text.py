"""Untrusted input that used to get through: huge prompts, UTF-16 files, deeply nested JSON, and user or model text
carrying terminal escape sequences (window titles, screen clears) to the terminal."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.pipeline.prompt_sets import read_prompts
from constitutional.text import printable
from tests.helpers import DATA, write
from tests.reports.report_fixtures import eval_dir, labelled_rows

SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"
TITLE, CLEAR, C1_CSI = "\x1b]0;pwned\x07", "\x1b[2J\x1b[H", "\x9b2J"
DEEP = "[" * 5000 + "]" * 5000


def cai(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], terminal_width=160)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def assert_no_control(output: str) -> None:
    assert not any(ch in output for ch in "\x1b\x07\x9b\x00\r"), repr(output)


def test_printable_removes_escape_sequences_and_control_characters_only():
    assert printable(f"a{TITLE}b{CLEAR}c{C1_CSI}d\x00\r\x7f\x08e") == "abc2Jde"
    assert printable("tabs\tand\nnewlines stay; ünïcödé ✓ 日本 too") == "tabs\tand\nnewlines stay; ünïcödé ✓ 日本 too"


def test_prompts_over_max_prompt_chars_are_skipped_by_line_and_the_rest_run(tmp_path):
    prompts = write(tmp_path / "p.txt", "benign one\n" + "x" * 500 + "\nbenign two\n")
    result = cai("run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run", "--no-eval", "-q", "--max-prompt-chars", "100")
    assert result.exit_code == 1, result.output
    assert f"skipped {prompts}:2: the prompt is 500 characters, over the limit of 100" in result.output
    assert [json.loads(line)["prompt"] for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()] == [
        "benign one",
        "benign two",
    ]
    assert len(list(read_prompts(prompts))) == 3  # the option held for that command only


def test_a_utf16_prompt_file_is_refused_saying_how_to_convert_it(tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_bytes("benign one\nbenign two\n".encode("utf-16"))
    result = cai("run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run", "--no-eval", "-q")
    assert result.exit_code == 2 and "is UTF-16 text" in result.output and "iconv -f UTF-16 -t UTF-8" in result.output
    assert not (tmp_path / "run").exists()


def test_deeply_nested_json_is_a_line_problem_in_run_and_eval_not_a_traceback(tmp_path):
    prompts = write(tmp_path / "p.jsonl", '{"prompt": "benign one"}\n{"prompt": "deep", "meta": ' + DEEP + "}\n")
    result = cai("run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run", "--no-eval", "-q")
    assert result.exit_code == 1 and f"{prompts}:2: JSON nested deeper than 50 levels" in result.output
    revisions = write(tmp_path / "r.jsonl", '{"prompt": "p", "revision": "r"}\n{"prompt": "p", "revision": ' + DEEP + "}\n")
    result = cai("eval", revisions, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 2 and f"{revisions}:2: JSON nested deeper than 100 levels" in result.output


def test_escape_sequences_in_ids_and_messages_never_reach_the_terminal(tmp_path):
    prompts = write(
        tmp_path / "p.jsonl",
        json.dumps({"id": f"{TITLE}one{CLEAR}", "prompt": "benign one"})
        + "\n"
        + json.dumps({"id": f"{TITLE}one{CLEAR}", "prompt": "benign two"})
        + "\n",
    )
    result = cai("run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run", "--no-eval", "-q")
    assert result.exit_code == 1 and "] one: ok" in result.output and "duplicate id 'one'" in result.output
    assert_no_control(result.output)
    revisions = write(tmp_path / "r.jsonl", (json.dumps({"id": f"{C1_CSI}x", "prompt": "p", "revision": "r"}) + "\n") * 2)
    result = cai("eval", revisions, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 2 and "duplicate id '2Jx'" in result.output
    assert_no_control(result.output)


def test_reports_and_diffs_strip_escape_sequences_from_ids_and_principles(tmp_path):
    rows = labelled_rows()[:6]
    rows[0] = dict(rows[0], id=f"{TITLE}record-one")
    rows[1] = dict(rows[1], violations=[{"principle": f"evil{CLEAR}-principle", "quote": "x"}])
    a = eval_dir(tmp_path, rows, "a")
    b = eval_dir(tmp_path, [dict(row, revision=row.get("draft") or row["revision"]) for row in rows], "b")
    for args, shown in (
        (["report", a], "evil-principle"),
        (["report", a, "-f", "md"], "evil-principle"),
        (["report", "diff", a, b], "record-one"),
        (["report", "diff", a, b, "-f", "md"], "record-one"),
    ):
        result = cai(*args)
        assert result.exit_code == 0 and shown in result.output, result.output
        assert_no_control(result.output)
