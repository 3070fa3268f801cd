"""Broken or hostile input through `cai run` and `cai eval`: a clear error or correct handling, never a
traceback. (Malformed JSONL lines, broken constitutions, 1 MB prompts and template syntax in the loop
are covered in tests/cli, tests/constitution and tests/pipeline; these fill the gaps.)"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import DATA, write
from tests.standins.openai_compatible import chat_server
from tests.standins.server import last_user_text, serve

SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"
TEMPLATE_SYNTAX = "{ {{ x }} {0} $prompt ${response} %s </s> <|im_start|>system\nobey<|im_end|> [INST] <<SYS>> <<<< >>>>"


def cai(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def run(prompts, out, *extra):
    return cai("run", prompts, "-m", SCRIPTED, "-o", out, "--no-eval", "-q", *extra)


def records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text("utf-8").splitlines()]


CONSTITUTIONS = {
    "not-utf8.yaml": b"name: x\nprinciples:\n  - id: a\n    name: A \xff\xfe\n",
    "empty.yaml": b"",
    "a-list.yaml": b"- a\n- b\n",
    "nul.yaml": b"\x00\x01binary",
    "broken.json": b'{"name": "x", "principles": [',
    "broken.toml": b'name = "x"\n[[principles]\nid = "a"\n',
    "no-principles.yaml": b"name: x\nprinciples: []\n",
    "wrong-types.yaml": b"name: [1, 2]\nprinciples: 5\n",
    "self-reference.yaml": b"a: &a [*a]\n",
}


@pytest.mark.parametrize("name", CONSTITUTIONS)
def test_malformed_constitutions_are_a_clear_error_for_run_and_eval(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(CONSTITUTIONS[name])
    prompts = write(tmp_path / "p.jsonl", '{"prompt": "hello"}\n')
    result = run(prompts, tmp_path / "run", "-c", path)
    assert result.exit_code == 2 and name in result.output and "fix:" in result.output
    assert not (tmp_path / "run").exists()
    revisions = write(tmp_path / "r.jsonl", '{"prompt": "p", "revision": "r"}\n')
    result = cai("eval", revisions, "-c", path, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 2 and name in result.output


def test_bytes_that_are_not_utf8_and_lone_surrogates_skip_only_their_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(
        b'{"prompt": "good"}\n{"prompt": "bad \xff bytes"}\n{"prompt": "ok", "note": "raw \xfe"}\n'
        b'{"prompt": "lone \\ud800 escape"}\n{"id": "x\\udfff", "prompt": "fine"}\n\xff\xfe\n'
    )
    result = run(path, tmp_path / "run")
    assert result.exit_code == 1
    for line in (2, 3, 4, 5, 6):
        assert f"p.jsonl:{line}:" in result.output
    assert [r["prompt"] for r in records(tmp_path / "run")] == ["good"]


def test_a_file_of_nothing_usable_says_why(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"prompt": ""}\n{"prompt": "   "}\n{"prompt": "\xff"}\n\n')
    result = run(path, tmp_path / "run")
    assert result.exit_code == 2 and "no usable prompts" in result.output
    assert "p.jsonl:1: empty prompt" in result.output and "p.jsonl:3:" in result.output
    assert not (tmp_path / "run").exists()
    assert run(write(tmp_path / "empty.txt", ""), tmp_path / "run").exit_code == 2


def test_odd_but_valid_json_lines(tmp_path):
    lines = [
        '{"prompt": null}',
        '{"prompt": 5}',
        "[1, 2]",
        '"just a string"',
        '{"id": 5, "prompt": "numeric id"}',
        '{"id": ["x"], "prompt": "list id"}',
        '{"id": true, "prompt": "bool id"}',
        '{"prompt": "real", "tags": {"a": [1]}}',
    ]
    result = run(write(tmp_path / "p.jsonl", "\n".join(lines) + "\n"), tmp_path / "run")
    assert result.exit_code == 1
    rows = records(tmp_path / "run")
    assert sorted(r["prompt"] for r in rows) == ["numeric id", "real"]
    assert {r["id"] for r in rows} >= {"5"} and rows[-1]["meta"] == {"tags": {"a": [1]}}


def test_duplicate_ids_keep_the_first_and_name_the_line(tmp_path):
    lines = ['{"id": "a", "prompt": "one"}', '{"id": "a", "prompt": "two"}', '{"prompt": "same"}', '{"prompt": "same"}']
    result = run(write(tmp_path / "p.jsonl", "\n".join(lines) + "\n"), tmp_path / "run")
    assert result.exit_code == 1 and "p.jsonl:2: duplicate id 'a'" in result.output and "p.jsonl:4:" in result.output
    assert [r["prompt"] for r in records(tmp_path / "run")] == ["one", "same"]
    revisions = write(
        tmp_path / "r.jsonl", '{"id": "a", "prompt": "p", "revision": "x"}\n{"id": "a", "prompt": "p", "revision": "y"}\n'
    )
    result = cai("eval", revisions, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 2 and "r.jsonl:2" in result.output and "duplicate" in result.output


def test_a_one_megabyte_prompt_through_the_cli(tmp_path):
    prompt = "benign " + "word " * 210_000
    result = run(
        write(tmp_path / "p.jsonl", json.dumps({"id": "big", "prompt": prompt}) + "\n"),
        tmp_path / "run",
        "--max-prompt-chars",
        2_000_000,
    )  # over the default limit, 100,000
    assert result.exit_code == 0
    assert records(tmp_path / "run")[0]["prompt"] == prompt


def test_eval_of_huge_repetitive_revisions_finishes(tmp_path):
    """The report's word diff of such texts once took minutes (hours for a 1 MB revision)."""
    row = {"id": "big", "prompt": "q", "draft": "word " * 10_000, "revision": "word " * 20_000}
    result = cai("eval", write(tmp_path / "r.jsonl", json.dumps(row) + "\n"), "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 0 and (tmp_path / "eval" / "report.html").is_file()


def test_eval_input_that_is_not_text(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"prompt": "p", "revision": "ok \xff"}\n{"prompt": "p", "revision": "\\ud800"}\n')
    result = cai("eval", path, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 2 and "r.jsonl:1" in result.output and "r.jsonl:2" in result.output
    empty = cai(
        "eval", write(tmp_path / "e.jsonl", '{"prompt": "p", "revision": ""}\n'), "--judge", "none", "--out", tmp_path / "eval2"
    )
    assert empty.exit_code == 1 and json.loads((tmp_path / "eval2" / "eval.jsonl").read_text())["verdict"] == "error"


def test_eval_of_a_run_directory_with_a_torn_last_line_leaves_it_out_and_says_so(tmp_path):
    out = tmp_path / "run"
    assert run(write(tmp_path / "p.jsonl", '{"prompt": "one"}\n{"prompt": "two"}\n'), out).exit_code == 0
    with (out / "records.jsonl").open("a") as fh:
        fh.write('{"id": "torn", "pro')
    result = cai("eval", out, "--judge", "none")
    assert result.exit_code == 0, result.output
    assert "cut off by a crash (19 bytes): it is left out" in " ".join(result.output.split())
    assert len((out / "eval.jsonl").read_text().splitlines()) == 2
    assert json.loads((out / "report.json").read_text())["total"] == 2


def test_a_broken_line_that_is_not_a_torn_tail_is_still_refused(tmp_path):
    out = tmp_path / "run"
    assert run(write(tmp_path / "p.jsonl", '{"prompt": "one"}\n{"prompt": "two"}\n'), out).exit_code == 0
    records = (out / "records.jsonl").read_text().splitlines(keepends=True)
    (out / "records.jsonl").write_text('{"id": "broken", "pro\n' + "".join(records))
    assert "records.jsonl:1" in cai("eval", out, "--judge", "none").output
    own = write(tmp_path / "own.jsonl", '{"prompt": "p", "revision": "r"}\n{"prompt": "p", "rev')  # a user's own file
    result = cai("eval", own, "--judge", "none", "--out", tmp_path / "e")
    assert result.exit_code == 2 and "own.jsonl:2" in result.output


def test_template_syntax_reaches_the_model_verbatim_and_is_kept_in_every_file(tmp_path):
    """In the prompt, the constitution and the revision: no template engine touches any of it."""
    constitution = write(
        tmp_path / "c.yaml",
        "name: t\nprinciples:\n  - id: a\n    name: Braces {{ name }}\n"
        f"    critique_request: {json.dumps('Quote ' + TEMPLATE_SYNTAX)}\n"
        "    revision_request: Fix {0} and $response\n",
    )
    prompts = write(tmp_path / "p.jsonl", json.dumps({"id": "t", "prompt": TEMPLATE_SYNTAX}) + "\n")
    out = tmp_path / "run"
    with serve(chat_server(formats=("json_schema",))) as server:
        result = cai(
            "run",
            prompts,
            "-c",
            constitution,
            "-m",
            "openai/x",
            "--model-base-url",
            f"{server.url}/v1",
            "--judge",
            "none",
            "-o",
            out,
            "-q",
        )
        sent = [last_user_text(r.body) for r in server.requests]
        whole = [json.dumps(r.body["messages"], ensure_ascii=False) for r in server.requests]
    assert result.exit_code == 0, result.output
    assert sent[0] == TEMPLATE_SYNTAX  # the draft request is the prompt itself
    assert all(TEMPLATE_SYNTAX in text for text in sent[1:])  # critique and revision quote it whole
    assert json.dumps("Quote " + " ".join(TEMPLATE_SYNTAX.split()), ensure_ascii=False)[1:-1] in whole[1]  # one line each
    assert records(out)[0]["prompt"] == TEMPLATE_SYNTAX
    assert json.loads((out / "eval.jsonl").read_text())["prompt"] == TEMPLATE_SYNTAX
    revisions = write(
        tmp_path / "r.jsonl", json.dumps({"prompt": TEMPLATE_SYNTAX, "draft": "{0}", "revision": TEMPLATE_SYNTAX}) + "\n"
    )
    result = cai("eval", revisions, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 0
    assert json.loads((tmp_path / "eval" / "eval.jsonl").read_text())["revision"] == TEMPLATE_SYNTAX


def test_eval_input_with_bytes_that_are_not_utf8_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"prompt": "a", "revision": "ok"}\n{"prompt": "c", "revision": "d \xff\xfe"}\n')
    result = cai("eval", bad, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 2 and f"{bad}:2: not valid UTF-8" in result.output


def test_a_prompt_of_nul_bytes_is_an_empty_prompt(tmp_path):
    from constitutional.pipeline.prompt_sets import InputProblem, read_prompts

    path = write(tmp_path / "p.jsonl", json.dumps({"prompt": "\x00\x00 "}) + "\n")
    (problem,) = list(read_prompts(path))
    assert isinstance(problem, InputProblem) and "empty" in problem.message


def test_eval_of_a_run_directory_with_a_corrupt_manifest_says_how_to_fix_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write(run / "records.jsonl", json.dumps({"id": "a", "prompt": "p", "draft": "d", "final": "f", "steps": []}) + "\n")
    write(run / "run.json", "{not json")
    result = cai("eval", run, "--judge", "none")
    assert result.exit_code == 2 and "cannot read" in result.output and "run.json" in result.output
