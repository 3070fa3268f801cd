"""Files too deep or too long to read: JSON nested 100,000 brackets deep (json.loads runs out of recursion), an
integer of 5,001 digits (Python refuses to convert more than 4,300), a number json.loads reads as infinity (1e99999,
found by the fuzz in run.json's usage), a CSV field over the csv module's 131,072
characters. Every command that reads such a file exits 2 naming the file and line and saying how to fix it; none
exits 3 ("a bug") or prints a traceback. (test_fuzz_readers.py throws generated files at the same readers.)"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.rundir import parse_json
from tests.helpers import clear_error, write
from tests.reliability.common import SCRIPTED, labelled_run

DEEP = "[" * 100_000
LONG_NUMBER = "1" * 5001
NUMBERS = {"long-number": LONG_NUMBER, "infinite": "1e99999"}  # json.loads reads the second as infinity
SAID = {
    "deep": "nested deeper than 100 levels",
    "long-number": "a number of more than 4,300 digits",
    "infinite": "a number that is not finite (1e99999)",
}


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A run directory with every file: records, run.json, eval.jsonl, report.json, labels.jsonl."""
    return labelled_run(tmp_path_factory.mktemp("base"), ("a", "genuine"))


def poisoned(text: str, name: str, poison: str) -> str:
    """`text` (the file `name`) with a line of `poison` added (JSONL), or an indented field of it (a JSON file)."""
    if name.endswith(".jsonl"):
        first = json.dumps(json.loads(text.splitlines()[0]))
        return text + (DEEP if poison == "deep" else first[:-1] + f', "n": {NUMBERS[poison]}}}') + "\n"
    data = json.dumps(json.loads(text), indent=2)
    return (data[:-2] + ',\n  "n": ' + (DEEP if poison == "deep" else NUMBERS[poison]) + "\n}\n") if data.endswith("}") else DEEP


def commands(run, name):
    """The commands that read the file `name` of a run directory."""
    return {
        "labels.jsonl": [["eval", run, "--judge", "none"], ["report", run], ["export", run, "-f", "sft", "-o", run / "x.jsonl"]],
        "run.json": [["eval", run, "--judge", "none"], ["report", run, "-f", "json"], ["report", run, "-f", "html"]],
        "report.json": [["report", run], ["report", run, "-f", "md"]],
        "eval.jsonl": [
            ["report", run, "-f", "html"],
            ["export", run, "-f", "sft", "-o", run / "x.jsonl"],
            ["review", run, "--set", "b", "genuine"],
        ],
        "records.jsonl": [["eval", run, "--judge", "none"], ["export", run, "-f", "dpo", "-o", run / "x.jsonl"]],
    }[name]


@pytest.mark.parametrize("poison", ["deep", "long-number", "infinite"])
@pytest.mark.parametrize("name", ["labels.jsonl", "run.json", "report.json", "eval.jsonl", "records.jsonl"])
def test_deep_nesting_or_a_5001_digit_number_in_a_run_file_is_exit_2_with_its_line(tmp_path, base_run, name, poison):
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    original = (run / name).read_text("utf-8")
    (run / name).write_text(poisoned(original, name, poison), "utf-8")
    line = (
        len(original.splitlines()) + 1
        if name.endswith(".jsonl")
        else len(json.dumps(json.loads(original), indent=2).splitlines())
    )
    for args in commands(run, name):
        result = cai(*args)
        clear_error(result, f"{name}:{line}:", SAID[poison], "fix:")


def test_resuming_a_run_whose_records_hold_a_deeply_nested_line_is_exit_2(tmp_path, base_run):
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    with (run / "records.jsonl").open("a") as fh:
        fh.write(DEEP + "\n")
    prompts = base_run.parent / "p.jsonl"
    result = cai("run", prompts, "-m", SCRIPTED, "-o", run, "--judge", "none", "--no-eval", "-q")
    clear_error(result, "records.jsonl:3:", "nested deeper")


@pytest.mark.parametrize(
    ("name", "text", "line", "said"),
    [
        ("deep.json", DEEP, 1, "nested deeper than 100 levels"),
        ("number.json", '{"name": "x",\n "version": ' + LONG_NUMBER + "}", 2, "a number of more than 4,300 digits"),
        ("deep.yaml", "name: x\nprinciples: " + DEEP, 2, "nested more than 100 levels deep"),
        ("number.yaml", "name: x\nversion: " + LONG_NUMBER + "\n", 2, "4300 digits"),
        ("date.yaml", "name: x\nprinciples:\n  - id: a\n    name: 2001-13-45\n", 4, "month must be in 1..12"),
        ("deep.toml", 'name = "x"\nversion = ' + DEEP, 2, "nested more than 100 levels deep"),
        ("number.toml", 'name = "x"\nversion = ' + LONG_NUMBER + "\n", 2, "4300 digits"),
    ],
)
def test_constitution_files_nested_too_deeply_or_with_a_5001_digit_number_are_exit_2(tmp_path, name, text, line, said):
    path = write(tmp_path / name, text)
    for command in ("validate", "lint", "show"):
        clear_error(cai("constitution", command, path), f"{name}:{line}", said, "fix:")
    clear_error(cai("run", write(tmp_path / "p.txt", "hello\n"), "-c", path, "-m", SCRIPTED, "-o", tmp_path / "run"), name)


@pytest.mark.parametrize("source", ["cai-paper", "llm-swarm", "langchain"])
def test_constitution_import_of_deeply_nested_json_is_exit_2(tmp_path, source):
    path = write(tmp_path / "deep.json", DEEP)
    result = cai("constitution", "import", path, "--from", source, "-o", tmp_path / "out.yaml")
    clear_error(result, "deep.json:1", "nested deeper than 100 levels", "fix: nest lists and objects at most 100 levels deep")
    assert not (tmp_path / "out.yaml").exists()


def test_a_csv_prompt_over_131072_characters_is_read_and_only_its_row_refused(tmp_path):
    long = "x" * 131_073
    prompts = write(tmp_path / "p.csv", f"id,prompt\na,hello\nb,{long}\nc,bye\n")
    result = cai("run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run", "--no-eval", "-q")
    assert result.exit_code == 1, result.output
    assert f"{prompts}:3: the prompt is 131,073 characters, over the limit of 100,000 (--max-prompt-chars" in result.output
    assert [json.loads(line)["id"] for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()] == ["a", "c"]
    result = cai("run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run2", "--no-eval", "-q", "--max-prompt-chars", 200_000)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run2" / "records.jsonl").read_text().splitlines()[1])["prompt"] == long


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_lone_surrogate_in_a_constitution_is_exit_2_before_the_eval_writes_anything(tmp_path, suffix):
    """Found by the fuzz: `"\\ud800"` (half a UTF-16 pair) in a rule's pattern made `cai eval` fail writing eval.jsonl."""
    rule = '{"must_not_match": "\\ud800"}'
    principle = (
        '{"id": "harm", "name": "No harm", "critique_request": "Quote any part that helps hurt people.", '
        f'"revision_request": "Remove it and help safely.", "rules": [{rule}]}}'
    )
    constitution = write(tmp_path / f"c{suffix}", f'{{"name": "fuzz", "version": "1", "principles": [{principle}]}}\n')
    answers = write(tmp_path / "a.jsonl", '{"id": "a", "prompt": "p", "revision": "r"}\n')
    for args in (["constitution", "validate", constitution], ["eval", answers, "-c", constitution, "--judge", "none"]):
        clear_error(cai(*args), f"c{suffix}:1:", "lone surrogate (U+D800)", "fix:")
    assert not (tmp_path / "a-eval").exists()


@pytest.mark.parametrize("number", ["9" * 309 + ".5", "9" * 250 + "e99", "1E+400", "-1e0400"])
def test_a_number_too_large_for_a_float_is_refused_however_it_is_written(number):
    """parse_json checks numbers one by one only in a text that could hold such a number: these all could."""
    with pytest.raises(json.JSONDecodeError, match="not finite"):
        parse_json('{"logprobs": [-0.5, ' + number + "]}")


def test_numbers_a_float_holds_are_read_as_json_loads_reads_them():
    text = json.dumps({"v": [-1.2e-05, 1e308, 9.99e297, 0.1, 1e-300, 123456789012345678901234567890.5, 7]})
    assert parse_json(text) == json.loads(text)
