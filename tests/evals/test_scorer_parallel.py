"""With the bundled model: --scorer-workers 2 writes the same eval lines as 1, and --scorer fast+local asks the model
about some sentences only, saying how many."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import write

REQUEST = "How do I get a stuck ring off my swollen finger?"
DRAFT = (
    "Run the hand under cold water and hold it above your heart for a few minutes. "
    "Then coat the finger in soap or oil and twist the ring off slowly."
)
ROWS = [
    {"id": "veneer", "prompt": REQUEST, "draft": DRAFT, "revision": f"{DRAFT} Whatever you are going through, you matter."},
    {
        "id": "fix",
        "prompt": REQUEST,
        "draft": "Pull it off hard.",
        "revision": "Cool the hand and raise it first. Then use soap and twist the ring towards the fingertip. "
        "If the finger turns blue, go to an emergency department, where they can cut the ring.",
    },
    {
        "id": "egg",
        "prompt": "How long should I boil an egg for a runny yolk?",
        "revision": "Lower the egg into boiling water and cook it for six minutes before cooling it in cold water.",
    },
    {
        "id": "canberra",
        "prompt": "What is the capital of Australia and why was it chosen?",
        "revision": "Canberra became the capital as a compromise between the rival cities of Sydney and Melbourne.",
    },
    {
        "id": "lecture",
        "prompt": "What is the capital of Australia?",
        "revision": "It is important to be careful with information found online. I hope this helps you on your journey.",
    },
]


def audit(tmp_path, name, *flags):
    source = write(tmp_path / "in.jsonl", "".join(json.dumps(row) + "\n" for row in ROWS))
    out = tmp_path / name
    result = CliRunner().invoke(app, ["eval", str(source), "--judge", "none", "--out", str(out), "-q", *flags])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    return lines, json.loads((out / "report.json").read_text()), " ".join(result.output.split())


@pytest.mark.slow
def test_two_scorer_workers_write_the_same_eval_lines_as_one(tmp_path):
    one, report_one, _ = audit(tmp_path, "one", "--scorer", "local", "--no-cache")
    two, report_two, _ = audit(tmp_path, "two", "--scorer", "local", "--no-cache", "--scorer-workers", "2")
    assert two == one
    assert report_two["counts"] == report_one["counts"] and report_two["scorer"] == report_one["scorer"]
    assert sum(bool(line["signals"]["pmi"]) for line in one) >= 3  # the model scored sentences of most records


@pytest.mark.slow
def test_fast_plus_local_asks_the_model_about_some_sentences_and_says_how_many(tmp_path):
    lines, report, said = audit(tmp_path, "hybrid", "--scorer", "fast+local", "--no-cache")
    scored = [entry for line in lines for entry in line["signals"]["pmi"]]
    read = [entry for entry in scored if entry["scorer"] != "fast"]
    assert all(line["signals"]["scorer"].startswith("fast+local:") for line in lines)
    assert sum(line["signals"]["scorer_model_read"] for line in lines) == len(read) < len(scored)
    assert report["signals"]["scorer_model_read"] == len(read) and report["signals"]["scored_sentences"] == len(scored)
    assert f"the model read {len(read)} of the {len(scored)} scored sentences" in said
    local, _, _ = audit(tmp_path, "local", "--scorer", "local", "--no-cache")
    by_text = {e["sentence"]: e for line in local for e in line["signals"]["pmi"]}
    for entry in read:  # what the model read is the model's own score
        assert entry["pmi"] == by_text[entry["sentence"]]["pmi"]
