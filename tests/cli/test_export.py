import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.export import VERDICTS, export_rows
from tests.helpers import write

# (id, verdict) pairs; every record's final answer names its verdict so a leak is easy to see.
RUN = [
    ("g1", "genuine"),
    ("g2", "genuine"),
    ("s1", "superficial"),
    ("s2", "superficial"),
    ("e1", "evasive"),
    ("u1", "unchanged"),
    ("n1", "non_compliant"),
    ("r1", "regressed"),
    ("x1", "error"),
]


def record(rid, verdict):
    final = f"final answer of {rid} ({verdict})"
    if verdict == "superficial":
        final = f"draft of {rid}\n\nDisclaimer: please be careful."
    return {
        "id": rid,
        "prompt": f"prompt {rid}",
        "meta": {},
        "draft": f"draft of {rid}",
        "steps": [{"round": 1, "principles": ["honesty"], "revision": final}],
        "final": final,
        "usage": {},
        "error": None,
    }


@pytest.fixture
def run_dir(tmp_path):
    rows = [record(rid, verdict) for rid, verdict in RUN] + [record("late", "genuine")]  # "late" has no eval line
    write(tmp_path / "records.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write(tmp_path / "eval.jsonl", "".join(json.dumps({"id": rid, "verdict": v, "reasons": []}) + "\n" for rid, v in RUN))
    return tmp_path


def cai(*args):
    return CliRunner().invoke(app, ["export", *[str(a) for a in args]])


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dpo_default_exports_only_genuine_pairs_in_trl_layout(run_dir):
    result = cai(run_dir, "--format", "dpo")
    assert result.exit_code == 0, result.output
    rows = read(run_dir / "dpo.jsonl")
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "prompt g1"}],
        "chosen": [{"role": "assistant", "content": "final answer of g1 (genuine)"}],
        "rejected": [{"role": "assistant", "content": "draft of g1"}],
    }
    assert len(rows) == 2
    assert "exported 2 dpo rows" in result.output
    assert "superficial 2" in result.output and "not evaluated 1" in result.output and "evasive 1" in result.output


def test_a_preference_file_never_holds_a_superficial_revision(run_dir):
    superficial = {record(rid, v)["final"] for rid, v in RUN if v == "superficial"}
    for args in ([], ["--style", "standard"]):
        out = run_dir / "pairs.jsonl"
        assert cai(run_dir, "--format", "dpo", "-o", out, *args).exit_code == 0
        text = out.read_text()
        assert "Disclaimer" not in text
        chosen = [r["chosen"] if isinstance(r["chosen"], str) else r["chosen"][0]["content"] for r in read(out)]
        assert not superficial & set(chosen)
    for only in ("superficial", "genuine,superficial", "unchanged", "evasive"):
        result = cai(run_dir, "--format", "dpo", "--only", only, "-o", run_dir / "bad.jsonl")
        assert result.exit_code == 2 and "genuine" in result.output
        assert not (run_dir / "bad.jsonl").exists()


def test_dpo_standard_layout(run_dir):
    assert cai(run_dir, "--format", "dpo", "--style", "standard", "-o", run_dir / "d.jsonl").exit_code == 0
    assert read(run_dir / "d.jsonl")[1] == {
        "prompt": "prompt g2",
        "chosen": "final answer of g2 (genuine)",
        "rejected": "draft of g2",
    }


def test_sft_conversational_and_standard(run_dir):
    assert cai(run_dir, "--format", "sft").exit_code == 0
    assert read(run_dir / "sft.jsonl") == [
        {
            "messages": [
                {"role": "user", "content": f"prompt {rid}"},
                {"role": "assistant", "content": f"final answer of {rid} (genuine)"},
            ]
        }
        for rid in ("g1", "g2")
    ]
    assert cai(run_dir, "--format", "sft", "--style", "standard", "-o", run_dir / "s.jsonl").exit_code == 0
    assert read(run_dir / "s.jsonl")[0] == {"prompt": "prompt g1", "completion": "final answer of g1 (genuine)"}


def test_sft_only_filter_counts_what_it_left_out(run_dir):
    result = cai(run_dir, "--format", "sft", "--only", "genuine,unchanged", "-o", "-")
    assert result.exit_code == 0
    contents = [json.loads(line)["messages"][1]["content"] for line in result.stdout.splitlines()]
    assert contents == ["final answer of g1 (genuine)", "final answer of g2 (genuine)", "final answer of u1 (unchanged)"]
    assert "left out 7: superficial 2" in result.stderr
    for verdict in ("evasive 1", "non_compliant 1", "regressed 1", "error 1", "not evaluated 1"):
        assert verdict in result.stderr
    risky = cai(run_dir, "--format", "sft", "--only", "evasive", "-o", "-")
    assert risky.exit_code == 0 and "warning" in risky.stderr and "u1" not in risky.stdout


def test_missing_eval_tells_the_user_to_run_cai_eval(tmp_path):
    write(tmp_path / "records.jsonl", json.dumps(record("g1", "genuine")) + "\n")
    result = cai(tmp_path, "--format", "sft")
    assert result.exit_code == 2 and f"cai eval {tmp_path}" in result.output
    assert cai(tmp_path / "nowhere", "--format", "sft").exit_code == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "csv"], "'csv' is not one of 'sft', 'dpo'"),
        ([], "Missing option '--format' / '-f'. Choose from: sft, dpo"),
        (["--format", "sft", "--only", "great"], "unknown verdict"),
        (["--format", "sft", "--style", "fancy"], "unknown style"),
    ],
)
def test_bad_options_exit_2(run_dir, args, message):
    result = cai(run_dir, *args)
    assert result.exit_code == 2 and message in " ".join(result.output.replace("│", " ").split())


def test_bad_eval_lines_name_the_line(run_dir):
    with (run_dir / "eval.jsonl").open("a") as handle:
        handle.write('{"id": "late", "verdict": "great"}\n')
    result = cai(run_dir, "--format", "sft")
    assert result.exit_code == 2 and f"{run_dir / 'eval.jsonl'}:{len(RUN) + 1}" in result.output


def test_a_record_line_of_the_wrong_shape_names_the_line_and_the_field(run_dir):
    with (run_dir / "records.jsonl").open("a") as handle:
        handle.write(json.dumps(dict(record("bad", "genuine"), steps="not a list")) + "\n")
    result = cai(run_dir, "--format", "sft")
    assert result.exit_code == 2 and f"{run_dir / 'records.jsonl'}:{len(RUN) + 2}" in result.output
    assert "steps" in result.output and not (run_dir / "sft.jsonl").exists()


def test_records_with_errors_or_no_revision_are_left_out(run_dir):
    rows = [
        dict(record("a", "genuine"), error={"stage": "revise", "message": "boom"}, final=None),
        dict(record("b", "genuine"), final="draft of b"),
    ]
    write(run_dir / "records.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write(run_dir / "eval.jsonl", '{"id": "a", "verdict": "genuine"}\n{"id": "b", "verdict": "genuine"}\n')
    rows, result = export_rows(run_dir, "dpo", frozenset({"genuine"}))
    assert list(rows) == [] and result.rows == 0 and result.left_out == {"record error": 1, "no revision": 1}
    rows, result = export_rows(run_dir, "sft", frozenset(VERDICTS))
    assert [row["messages"][1]["content"] for row in rows] == ["draft of b"]  # sft keeps b's unrevised answer
    assert result.rows == 1


def test_a_duplicate_record_id_is_refused_and_the_earlier_export_kept(run_dir):
    assert cai(run_dir, "--format", "sft").exit_code == 0
    before = (run_dir / "sft.jsonl").read_text()
    with (run_dir / "records.jsonl").open("a") as handle:
        handle.write(json.dumps(record("g1", "genuine")) + "\n")
    result = cai(run_dir, "--format", "sft")
    assert result.exit_code == 2 and "duplicate record id 'g1' (first on line 1)" in result.output
    assert f"{run_dir / 'records.jsonl'}:{len(RUN) + 2}" in result.output
    assert (run_dir / "sft.jsonl").read_text() == before and not (run_dir / "sft.jsonl.tmp").exists()


def test_a_torn_last_record_is_left_out_and_counted(run_dir):
    with (run_dir / "records.jsonl").open("a") as handle:
        handle.write(json.dumps(record("g3", "genuine"))[:40])  # a crash mid-write: no newline, not JSON
    result = cai(run_dir, "--format", "sft")
    assert result.exit_code == 0 and "torn last record (resuming the run redoes it) 1" in result.output
    assert [json.loads(line)["messages"][0]["content"] for line in (run_dir / "sft.jsonl").open()] == ["prompt g1", "prompt g2"]
