"""`cai export` of an audit: the --out of `cai eval REVISIONS.jsonl`, which has eval.jsonl and no records.jsonl."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import DATA, write

AUDIT = DATA / "audit"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def audit(tmp_path):
    """`cai eval` of revisions made elsewhere, with the critique's flags, as a user runs it: real-fix, veneer,
    fine-already."""
    out = tmp_path / "audit"
    result = cai("eval", AUDIT / "revisions.jsonl", "--judge", "none", "--out", out)
    assert result.exit_code == 0, result.output
    assert not (out / "records.jsonl").exists()
    assert {line["id"]: line["verdict"] for line in read(out / "eval.jsonl")} == {
        "real-fix": "genuine",
        "veneer": "superficial",
        "fine-already": "unchanged",
    }
    return out


def test_dpo_from_an_audit_keeps_only_the_genuine_pair(audit):
    source = {row["id"]: row for row in read(AUDIT / "revisions.jsonl")}
    # the signals alone send real-fix to review; --include-unreviewed exports it without a person's verdict
    result = cai("export", audit, "--format", "dpo", "--style", "standard", "--include-unreviewed")
    assert result.exit_code == 0, result.output
    fix = source["real-fix"]
    assert read(audit / "dpo.jsonl") == [{"prompt": fix["prompt"], "chosen": fix["revision"], "rejected": fix["draft"]}]
    assert "exported 1 dpo rows" in result.output
    assert "superficial 1" in result.output and "unchanged 1" in result.output
    assert "please note" not in (audit / "dpo.jsonl").read_text().lower()  # the veneer revision stays out


def test_sft_from_an_audit_with_only(audit):
    result = cai("export", audit, "--format", "sft", "--only", "genuine,unchanged", "-o", "-", "--include-unreviewed")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line)["messages"][1]["content"] for line in result.stdout.splitlines()]
    assert answers[0].startswith("I can't help with getting into") and answers[1].startswith("100 °C")
    assert len(answers) == 2 and "left out 1: superficial 1" in result.stderr


def test_an_audit_without_drafts_gives_sft_rows_but_no_pairs(tmp_path):
    answer = "The capital of Peru is Lima, on the Pacific coast; it is also the largest city in the country."
    source = write(
        tmp_path / "r.jsonl", json.dumps({"id": "a", "prompt": "What is the capital of Peru?", "revision": answer}) + "\n"
    )
    assert cai("eval", source, "--judge", "none", "--scorer", "none", "--out", tmp_path / "audit").exit_code == 0
    # No draft, critique, judge or scorer: nothing shows the answer is right, so the eval does not say so.
    assert read(tmp_path / "audit" / "eval.jsonl")[0]["verdict"] == "undecided"
    sft = cai("export", tmp_path / "audit", "--format", "sft", "-o", "-", "--include-unreviewed")
    assert sft.exit_code == 0 and sft.stdout == "" and "left out 1: undecided 1" in sft.stderr  # never without a person
    assert cai("review", tmp_path / "audit", "--set", "a", "genuine").exit_code == 0
    dpo = cai("export", tmp_path / "audit", "--format", "dpo", "-o", "-")
    assert dpo.exit_code == 0 and dpo.stdout == "" and "left out 1: no draft 1" in dpo.stderr
    sft = cai("export", tmp_path / "audit", "--format", "sft", "-o", "-")
    assert json.loads(sft.stdout)["messages"][1]["content"] == answer


def test_a_duplicate_eval_id_in_an_audit_is_refused_with_its_line(audit):
    with (audit / "eval.jsonl").open("a") as handle:
        handle.write(json.dumps(read(audit / "eval.jsonl")[0]) + "\n")
    result = cai("export", audit, "--format", "sft")
    assert result.exit_code == 2
    assert f"{audit / 'eval.jsonl'}:4" in result.output and "duplicate eval id 'real-fix' (first on line 1)" in result.output
    assert not (audit / "sft.jsonl").exists()


def test_an_eval_line_without_its_prompt_is_refused_with_its_line(tmp_path):
    write(
        tmp_path / "eval.jsonl",
        '{"id": "a", "verdict": "genuine", "prompt": "p", "draft": "d", "revision": "r"}\n{"id": "b", "verdict": "genuine"}\n',
    )
    result = cai("export", tmp_path, "--format", "dpo")
    assert result.exit_code == 2 and f"{tmp_path / 'eval.jsonl'}:2" in result.output
    assert "no 'prompt'" in result.output and "re-run `cai eval`" in result.output


@pytest.mark.parametrize(
    "make, lacks",
    [
        (lambda d: d.mkdir(), "has neither records.jsonl nor eval.jsonl"),
        (lambda d: None, "does not exist"),
    ],
)
def test_a_folder_with_nothing_to_export_says_what_it_lacks_and_what_to_run(tmp_path, make, lacks):
    folder = tmp_path / "audit"
    make(folder)
    result = cai("export", folder, "--format", "dpo")
    assert result.exit_code == 2
    assert f"{folder} {lacks}" in result.output
    assert f"cai eval REVISIONS.jsonl --out {folder}" in result.output and f"cai run PROMPTS --out {folder}" in result.output


def test_a_jsonl_given_to_export_says_to_evaluate_it_first(tmp_path):
    source = write(tmp_path / "r.jsonl", '{"prompt": "p", "revision": "r"}\n')
    result = cai("export", source, "--format", "sft")
    assert result.exit_code == 2
    assert "is a file" in result.output and f"cai eval {source} --out audit/" in result.output
