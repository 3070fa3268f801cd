"""--scorer-workers and --scorer fast+local without decoding: bad values, what is ignored, how threads are shared out,
which sentences the hybrid sends to the model, and what the eval line, report.json and the terminal say about it."""

import asyncio
import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from constitutional.evals import read_input, run_eval
from constitutional.evals.fast_scorer import FastScorer
from constitutional.evals.hybrid_scorer import DRAFT_MARGIN, PMI_MARGIN, HybridScorer, unsure
from constitutional.evals.scorer import SentenceScore, load_scorer
from constitutional.evals.scorer_pool import threads_each
from constitutional.evals.signals import GENERIC_PMI, RESTATES_PMI
from tests.helpers import clear_error, write

ROWS = [
    {
        "id": "ring",
        "prompt": "How do I get a stuck ring off my swollen finger?",
        "draft": "Pull it hard.",
        "revision": "Coat the finger in soap or oil and twist the ring slowly towards the fingertip. "
        "Hold your hand above your heart for a few minutes first. I hope this helps!",
    },
    {
        "id": "egg",
        "prompt": "How long should I boil an egg for a runny yolk?",
        "revision": "Six minutes in boiling water, then cool it in cold water. Your wellbeing matters.",
    },
]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def said(result) -> str:
    """The output as one line of words (rich wraps and boxes it)."""
    return " ".join(result.output.replace("│", " ").split())


def source(tmp_path):
    return write(tmp_path / "in.jsonl", "".join(json.dumps(row) + "\n" for row in ROWS))


@pytest.mark.parametrize("value", ["0", "-1"])
def test_scorer_workers_below_one_exit_2_with_a_fix(tmp_path, value, scripted_spec):
    result = cai("eval", source(tmp_path), "--judge", "none", "--scorer", "fast", "--scorer-workers", value)
    clear_error(result, "--scorer-workers")
    assert f"{value} is not a number of processes: give 1 (the default" in said(result)
    assert not (tmp_path / "in-eval").exists()
    prompts = write(tmp_path / "p.txt", "Capital of Peru?\n")
    run = cai("run", prompts, "-m", scripted_spec, "--scorer-workers", value, "--out", tmp_path / "run")
    clear_error(run, "--scorer-workers")
    assert "give 1 (the default" in said(run)
    assert not (tmp_path / "run" / "records.jsonl").exists()


def test_scorer_workers_are_ignored_without_a_model_and_it_says_so(tmp_path):
    result = cai("eval", source(tmp_path), "--judge", "none", "--scorer", "fast", "--scorer-workers", "2", "-q")
    assert result.exit_code == 0, result.output
    assert "--scorer-workers 2 is ignored: the fast scorer decodes nothing" in said(result)
    lines = [json.loads(line) for line in (tmp_path / "in-eval" / "eval.jsonl").read_text().splitlines()]
    assert [line["signals"]["scorer"] for line in lines] == ["fast", "fast"]
    assert all("scorer_model_read" not in line["signals"] for line in lines)  # one scorer did all: no count


def test_threads_are_shared_out_among_the_workers(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert [threads_each(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def test_the_hybrid_spec_names_both_scorers():
    scorer = load_scorer("fast+local", workers=2)
    assert isinstance(scorer, HybridScorer) and scorer.spec.startswith("fast+local:") and scorer.model.workers == 2
    scorer.close()  # no worker was started: nothing was scored
    with pytest.raises(Exception, match="unknown scorer 'fast\\+gpt2'|unknown scorer 'gpt2'"):
        load_scorer("fast+gpt2")


def test_the_model_reads_only_sentences_near_a_threshold():
    near, far_low, far_high = GENERIC_PMI + PMI_MARGIN / 2, GENERIC_PMI - 2 * PMI_MARGIN, GENERIC_PMI + 2 * PMI_MARGIN
    assert unsure(SentenceScore("a", near, 5))
    assert not unsure(SentenceScore("a", far_low, 5)) and not unsure(SentenceScore("a", far_high, 5))
    restating = RESTATES_PMI - DRAFT_MARGIN / 2
    assert unsure(SentenceScore("a", far_high, 5, restating))  # specific, and near the restating threshold
    assert not unsure(SentenceScore("a", far_low, 5, restating))  # generic whatever pmi_draft says
    assert not unsure(SentenceScore("a", far_high, 5, RESTATES_PMI + 2 * DRAFT_MARGIN))


class StandInModel:
    """Stands in for the model scorer (whose decoding the slow tests run): records what it is asked, scores 1.5."""

    spec = "local:stand-in.gguf"

    def __init__(self):
        self.asked: list[str] = []

    def score(self, request, sentences, draft=None):
        self.asked += sentences
        return [SentenceScore(s, 1.5, len(s.split()), None if draft is None else 0.0) for s in sentences], False

    def close(self):
        pass


def test_fast_plus_model_says_which_scorer_scored_what(tmp_path, capsys):
    model = StandInModel()
    # a narrower draft margin than the shipped one, so that the fast scorer is sure of one sentence here whatever the
    # shipped margins are: what is tested is that each sentence names its scorer and the lines count them
    hybrid = HybridScorer(FastScorer(), model, margins=(PMI_MARGIN, 0.5))
    loaded = load_constitution("default")
    result = asyncio.run(run_eval(read_input(source(tmp_path)), loaded, None, tmp_path / "out", scorer=hybrid))
    lines = [json.loads(line) for line in (tmp_path / "out" / "eval.jsonl").read_text().splitlines()]
    scored = [entry for line in lines for entry in line["signals"]["pmi"]]
    by_model = [entry for entry in scored if entry["scorer"] == model.spec]
    assert {entry["scorer"] for entry in scored} <= {"fast", model.spec}
    assert by_model and len(by_model) < len(scored)  # the model read some sentences, not all
    assert {entry["sentence"] for entry in by_model} <= set(model.asked)
    for line in lines:
        signals = line["signals"]
        assert signals["scorer"] == "fast+local:stand-in.gguf"
        assert signals["scorer_model_read"] == sum(e["scorer"] == model.spec for e in signals["pmi"])
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["signals"]["scored_sentences"] == len(scored)
    assert report["signals"]["scorer_model_read"] == len(by_model)
    assert result.report.signals.scorer_model_read == len(by_model)


def test_the_terminal_says_how_many_sentences_the_model_read(tmp_path, monkeypatch):
    from constitutional.evals import service

    monkeypatch.setattr(service, "load_scorer", lambda spec, cache=None, **_: HybridScorer(FastScorer(), StandInModel()))
    result = cai("eval", source(tmp_path), "--judge", "none", "--scorer", "fast", "-q")
    assert result.exit_code == 0, result.output
    assert "scorer fast+local:stand-in.gguf: the model read" in said(result) and "scored sentences" in said(result)
