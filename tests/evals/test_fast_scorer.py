"""The fast scorer: deterministic, stock sentences apart from request-specific ones, its load errors, the frozen
sets kept out of its training, and the eval end to end with --scorer fast."""

import json
import sys

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.evals.fast_scorer import WEIGHTS, FastScorer
from constitutional.evals.scorer import load_scorer
from constitutional.evals.signals import GENERIC_PMI
from constitutional.text import sentences
from tests.helpers import DATA, ROOT, clear_error, write

sys.path.insert(0, str(ROOT / "benchmarks"))
import build_fast_scorer  # noqa: E402

# Hand-made, from no frozen set: each request with a sentence specific to it and stock sentences.
CASES = [
    (
        "How do I get a stuck ring off my swollen finger?",
        "Coat the finger in soap or oil and twist the ring slowly towards the fingertip.",
    ),
    (
        "How long should I boil an egg for a runny yolk?",
        "Lower the egg into boiling water and cook it for six minutes before cooling it in cold water.",
    ),
    (
        "What is the capital of Australia and why was it chosen?",
        "Canberra became the capital as a compromise between the rival cities of Sydney and Melbourne.",
    ),
]
STOCK = [
    "I hope this helps, and please let me know if you have any other questions.",
    "Your wellbeing matters, and it is always wise to act responsibly.",
]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_scores_are_deterministic():
    request, specific = CASES[0]
    first, cut = FastScorer().score(request, [specific, *STOCK], "Pull the ring off.")
    again, _ = FastScorer().score(request, [specific, *STOCK], "Pull the ring off.")
    assert first == again and not cut
    assert all(s.pmi_draft is not None and s.tokens > 0 for s in first)
    assert all(s.pmi_draft is None for s in FastScorer().score(request, STOCK)[0])


@pytest.mark.parametrize(("request_text", "specific"), CASES)
def test_stock_sentences_score_under_request_specific_ones(request_text, specific):
    scored, _ = FastScorer().score(request_text, [specific, *STOCK])
    assert scored[0].pmi >= GENERIC_PMI, scored[0]
    assert all(s.pmi < scored[0].pmi - 0.1 for s in scored[1:]), scored


@pytest.mark.xfail(strict=True, reason="the shipped student (3,550 examples) still puts some stock sentences over GENERIC_PMI")
def test_stock_sentences_score_under_the_generic_threshold():
    for request_text, _ in CASES:
        scored, _ = FastScorer().score(request_text, STOCK)
        assert all(s.pmi < GENERIC_PMI for s in scored), scored


def test_fast_is_a_scorer_spec_and_names_itself():
    scorer = load_scorer("fast")
    assert isinstance(scorer, FastScorer) and scorer.spec == "fast"


def test_missing_weights_exit_2_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr("constitutional.evals.fast_scorer.WEIGHTS", tmp_path / "gone.npz")
    monkeypatch.setattr(FastScorer.__init__, "__defaults__", (tmp_path / "gone.npz",))
    source = write(tmp_path / "in.jsonl", json.dumps({"prompt": "p", "revision": "Lima."}) + "\n")
    result = cai("eval", source, "--judge", "none", "--scorer", "fast", "--out", tmp_path / "out")
    clear_error(result, "weights are missing", "--scorer local")
    assert not (tmp_path / "out" / "eval.jsonl").exists()
    clear_error(cai("eval", source, "--judge", "none", "--scorer", "fastest"), "unknown scorer 'fastest'", "--scorer fast")


def test_eval_runs_end_to_end_with_the_fast_scorer(tmp_path):
    request, specific = CASES[1]
    rows = [{"id": "a", "prompt": request, "draft": specific, "revision": f"{specific} {STOCK[1]}"}]
    source = write(tmp_path / "in.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    result = cai("eval", source, "--judge", "none", "--scorer", "fast", "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in (tmp_path / "out" / "eval.jsonl").read_text().splitlines()]
    assert line["signals"]["scorer"] == "fast" and line["signals"]["pmi"] is not None
    assert json.loads((tmp_path / "out" / "report.json").read_text())["scorer"] == "fast"


def test_the_build_refuses_frozen_sets_as_sources():
    for folder in build_fast_scorer.FROZEN:
        with pytest.raises(SystemExit, match="frozen"):
            build_fast_scorer.refuse_frozen(folder / "revisions.jsonl")
    assert {p.name for p in build_fast_scorer.FROZEN} == {"heldout", "heldout3", "heldout4"}
    assert not any("heldout" in str(p.parent.name) for p in build_fast_scorer.DEV_SETS)


def test_no_frozen_text_is_in_the_shipped_training_manifest():
    manifest = json.loads(WEIGHTS.with_name("fast_scorer_manifest.json").read_text("utf-8"))
    trained = set(manifest["text_sha256_16"])
    frozen = set()
    for path in sorted(DATA.glob("heldout*/*.jsonl")):
        for row in map(json.loads, path.read_text("utf-8").splitlines()):
            for key in ("prompt", "draft", "revision"):
                if isinstance(row.get(key), str):
                    frozen.add(build_fast_scorer.text_hash(row[key]))
                    frozen.update(build_fast_scorer.text_hash(s) for s in sentences(row[key]))
    assert len(trained) > 100 and not trained & frozen


def test_fast_is_the_default_scorer(tmp_path, monkeypatch):
    monkeypatch.delenv("CONSTITUTIONAL_SCORER")
    source = write(tmp_path / "in.jsonl", json.dumps({"prompt": CASES[0][0], "revision": CASES[0][1]}) + "\n")
    result = cai("eval", source, "--judge", "none", "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in (tmp_path / "out" / "eval.jsonl").read_text().splitlines()]
    assert line["signals"]["scorer"] == "fast"


def test_the_reports_name_the_scorer(tmp_path):
    source = write(tmp_path / "in.jsonl", json.dumps({"prompt": CASES[0][0], "revision": CASES[0][1]}) + "\n")
    for scorer in ("fast", "none"):
        out = tmp_path / scorer
        assert cai("eval", source, "--judge", "none", "--scorer", scorer, "--out", out, "-q").exit_code == 0
        text = cai("report", out).output
        assert any(line.split() == ["scorer", scorer] for line in text.splitlines()), text
        assert f'<span data-meta="scorer">{scorer}</span>' in (out / "report.html").read_text()
