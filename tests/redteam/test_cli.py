"""`cai redteam` end to end: a small run writes its three files, the same --seed gives the same attempts, found.jsonl
is `cai eval` input, and bad input exits 2 (or is skipped with a count)."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.redteam.search import Attempt
from constitutional.redteam.seeds import builtin_seeds
from constitutional.redteam.service import found_line
from tests.helpers import clear_error, write


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def read(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("redteam") / "out"
    result = cai("redteam", "--limit", 3, "--budget", 25, "--scorer", "fast", "--seed", 5, "-o", out)
    return result, out


def test_a_small_run_writes_every_query_and_a_report(small_run):
    result, out = small_run
    assert result.exit_code == 0, result.output
    attempts, report = read(out / "attempts.jsonl"), json.loads((out / "report.json").read_text())
    seeds = {s.id: s for s in builtin_seeds()[:3]}
    assert {a["seed"] for a in attempts} == set(seeds)
    assert len(attempts) == report["queries"] <= 3 * 25
    for a in attempts:
        Attempt.model_validate(a)
        assert seeds[a["seed"]].span in a["revision"]
    assert report["seeds"] == 3 and report["budget"] == 25 and report["scorer"] == "fast" and report["judge"] is None
    assert (
        report["broken"]
        == sum(s["broken"] for s in report["per_seed"])
        == len({f["redteam"]["seed"] for f in read(out / "found.jsonl")})
    )
    assert report["gaming_resistance"] == pytest.approx(1 - report["broken_share"])
    assert set(report["by_operator"]) >= {"disavow", "zero_width", "veneer_mid", "judge_note"}
    assert "redteam: 3 seeds" in result.output and "gaming resistance" in result.output
    assert "gaming resistance" in (out / "report.html").read_text()  # cai report OUT shows it too


def test_the_same_seed_gives_the_same_attempts(small_run, tmp_path):
    _, out = small_run
    again = tmp_path / "again"
    assert cai("redteam", "--limit", 3, "--budget", 25, "--scorer", "fast", "--seed", 5, "-o", again, "-q").exit_code == 0
    assert (again / "attempts.jsonl").read_bytes() == (out / "attempts.jsonl").read_bytes()
    other = tmp_path / "other"
    assert cai("redteam", "--limit", 3, "--budget", 25, "--scorer", "fast", "--seed", 6, "-o", other, "-q").exit_code == 0
    assert (other / "attempts.jsonl").read_bytes() != (out / "attempts.jsonl").read_bytes()


def test_found_lines_are_cai_eval_input(tmp_path):
    seed = builtin_seeds()[0]
    revision = f"I'm not going to recommend it, but the old answer said: {seed.span}"
    success = Attempt(seed=seed.id, query=7, parent=3, operators=["disavow", "span_only"], revision=revision,
                      verdict="genuine", confidence=0.8, needs_review=False)  # fmt: skip
    found = write(tmp_path / "found.jsonl", json.dumps(found_line(seed, success, "signals")) + "\n")
    result = cai("eval", found, "--judge", "none", "--out", tmp_path / "eval")
    assert result.exit_code == 0, result.output
    (line,) = read(tmp_path / "eval" / "eval.jsonl")
    assert line["id"] == f"{seed.id}-q7" and line["draft"] == seed.draft and line["revision"] == revision


def test_an_unknown_operator_exits_2_with_the_name_meant():
    clear_error(cai("redteam", "--operators", "disavow,zero_widht", "--budget", 3), "unknown operator 'zero_widht'", "zero_width")


def test_a_budget_of_zero_exits_2():
    result = cai("redteam", "--budget", 0)
    assert result.exit_code == 2 and "--budget" in result.output


def test_seeds_without_a_verified_span_are_skipped_with_a_count_and_none_left_exits_2(tmp_path):
    bad = {
        "prompt": "How?",
        "draft": "Do the thing in three steps.",
        "span": "words not in the draft",
        "principle": "illegal-help",
    }
    good = {
        "prompt": "How?",
        "draft": "First, do the thing in three careful steps.",
        "span": "do the thing",
        "principle": "illegal-help",
    }
    only_bad = write(tmp_path / "bad.jsonl", json.dumps(bad) + "\n" + json.dumps({**bad, "principle": "nope"}) + "\n")
    clear_error(cai("redteam", only_bad), "no usable seeds", "the flagged span is not in the draft (unverified): 2")
    mixed = write(tmp_path / "mixed.jsonl", json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    result = cai("redteam", mixed, "--budget", 5, "-o", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    assert "skipped 1 seed(s): the flagged span is not in the draft (unverified)" in result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["skipped"] == {
        "the flagged span is not in the draft (unverified)": 1
    }


def test_a_seed_whose_principle_the_constitution_lacks_is_skipped(tmp_path):
    seed = {"prompt": "How?", "draft": "First, do the thing in three careful steps.", "span": "do the thing", "principle": "nope"}
    clear_error(
        cai("redteam", write(tmp_path / "s.jsonl", json.dumps(seed) + "\n")), "principle 'nope' is not in the constitution: 1"
    )


def test_seeds_that_are_not_json_exit_2(tmp_path):
    clear_error(cai("redteam", write(tmp_path / "s.jsonl", "{not json\n")), "not JSON", "s.jsonl:1")


def test_a_judge_is_called_with_its_trust_from_canaries_planted_from_the_seeds(tmp_path):
    from tests.evals.scripted import checklist, compare, scripted_judge

    folder = tmp_path / "judge"
    folder.mkdir()
    approves_all = [{"match": "Questions:", "reply": checklist()}, {"match": "ANSWER A:", "reply": compare("B")}]
    scripted_judge(folder, approves_all, default=checklist())
    out = tmp_path / "out"
    result = cai("redteam", "--limit", 2, "--budget", 6, "--judge", f"scripted:{folder / 'judge.yaml'}", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["judge"].startswith("scripted:") and report["judge_mode"] == "checklist"
    assert report["judge_trusted"] is False  # a judge that approves everything fails its canaries
    assert report["queries"] == len(read(out / "attempts.jsonl")) == 12
