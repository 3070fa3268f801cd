"""The scorer on a completions server (`--scorer openai/MODEL`), against a local stand-in over real HTTP: the
probe before any work, the scores it reads from echoed log-probabilities, retries, the reply cache, the fast
scorer standing in for records the server cannot score, and the process of its own a job's scorer runs in."""

import asyncio
import json
import os
import socket

import pytest
from benchmarks.standin_openai import completion_reply
from typer.testing import CliRunner

from constitutional.calls.factory import Calls, call_settings
from constitutional.cli.app import app
from constitutional.errors import UserError
from constitutional.evals.scorer import ASSISTANT, NEUTRAL_REQUEST, REVISE, USER, close_scorer, load_scorer
from constitutional.evals.scorer_process import ScorerProcess
from constitutional.evals.server_scorer import NoLogprobs, ServerScorer, echoed
from tests.helpers import clear_error, write
from tests.standins.completions import Faults
from tests.standins.server import serve

SPEC = "openai/standin"
REQUEST = "How do I get a stuck ring off my swollen finger?"
DRAFT = "Run the hand under cold water. Then twist the ring off slowly."
ROWS = [
    {"id": "a", "prompt": REQUEST, "draft": DRAFT, "revision": f"{DRAFT} Coat the finger in soap or oil first."},
    {"id": "b", "prompt": "Best way to learn Spanish?", "revision": "Speak with a tutor twice a week. Read short novels."},
]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def audit(tmp_path, url, *flags, rows=ROWS, out="out"):
    source = write(tmp_path / "in.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    result = cai(
        "eval", source, "--judge", "none", "--scorer", SPEC, "--scorer-base-url", url, "--out", tmp_path / out, "-q", *flags
    )
    return result, tmp_path / out


def eval_lines(out):
    return {line["id"]: line for line in map(json.loads, (out / "eval.jsonl").read_text().splitlines())}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_sentence_scores_the_log_probabilities_of_its_own_tokens():
    """PMI as the local scorer defines it, from what the server echoes: the sentence's tokens after the request,
    minus after the neutral request, per token; and after the draft, minus after the request."""
    sentence = "Coat the finger in soap or oil first."

    def logprob(context):
        span = echoed(completion_reply({"prompt": context + sentence, "echo": True, "logprobs": 1}), len(sentence))
        return sum(value for _, value in span), len(span)

    asked, n = logprob(USER + REQUEST + ASSISTANT)
    neutral, _ = logprob(USER + NEUTRAL_REQUEST + ASSISTANT)
    drafted, _ = logprob(USER + REQUEST + ASSISTANT + DRAFT + REVISE)
    with serve(Faults()) as standin:
        scorer = load_scorer(SPEC, settings=call_settings(cache=False, base_url=standin.url))
        try:
            (scored,), cut = scorer.score(REQUEST, [sentence], DRAFT)
        finally:
            close_scorer(scorer)
    assert n == 8 and scored.tokens == n and not cut
    assert scored.pmi == pytest.approx((asked - neutral) / n) and scored.pmi_draft == pytest.approx((drafted - asked) / n)
    bodies = [r.body for r in standin.requests]
    assert all(b["echo"] is True and b["logprobs"] == 1 and b["max_tokens"] == 1 and b["model"] == "standin" for b in bodies)
    assert {r.path for r in standin.requests} == {"/completions"}


def test_a_reply_without_prompt_log_probabilities_is_refused():
    generated_only = completion_reply({"prompt": "Hello there.", "logprobs": 1})
    with pytest.raises(NoLogprobs, match="none for the prompt"):
        echoed(generated_only, len("there."))
    with pytest.raises(NoLogprobs, match="no logprobs"):
        echoed({"choices": [{"text": "Hello there. ok", "logprobs": None}]}, 6)


def test_eval_scores_through_the_server_with_retries_and_a_second_run_from_the_cache(tmp_path):
    faults = Faults(flaky=1)  # every prompt fails once (503), then is answered
    with serve(faults) as standin:
        result, out = audit(tmp_path, standin.url)
        assert result.exit_code == 0, result.output
        first = eval_lines(out)
        asked = len(standin.requests)
        assert all(n == 2 for n in faults.seen.values())  # each prompt: a 503, then its answer (a retry, not a failure)
        again, out_again = audit(tmp_path, standin.url, out="again")
        assert again.exit_code == 0, again.output
        assert len(standin.requests) == asked  # every score came from the reply cache (the server was probed already)
    second = eval_lines(out_again)
    for rid in ("a", "b"):
        signals = first[rid]["signals"]
        assert signals["scorer"] == SPEC and signals["pmi"] and second[rid]["signals"] == signals
        assert not any("scorer" in reason for reason in first[rid]["reasons"])
    assert first["a"]["signals"]["pmi"][0]["pmi_draft"] is not None  # scored after the draft too
    assert json.loads((out / "report.json").read_text())["scorer"] == SPEC


def test_a_record_the_server_cannot_score_falls_back_to_the_fast_scorer_and_needs_review(tmp_path):
    rows = [ROWS[0], {**ROWS[1], "revision": "Speak with a tutor twice a week. Read UNLUCKY novels."}]
    faults = Faults(unlucky="UNLUCKY")
    with serve(faults) as standin:
        result, out = audit(tmp_path, standin.url, "--max-retries", "2", rows=rows)
    assert result.exit_code == 0, result.output  # the job goes on
    lines = eval_lines(out)
    assert lines["a"]["signals"]["scorer"] == SPEC
    fell_back = lines["b"]
    assert fell_back["signals"]["scorer"] == "fast" and fell_back["signals"]["pmi"] and fell_back["needs_review"]
    assert any(f"the scorer {SPEC} failed for this record" in r and "fast scorer" in r for r in fell_back["reasons"])
    unlucky = [n for prompt, n in faults.seen.items() if "UNLUCKY" in prompt]
    # The first try and 2 retries, as for any model call (a sibling request still retrying when the first gives up is
    # cancelled: the record falls back as soon as one of its requests has failed for good).
    assert max(unlucky) == 3 and all(n <= 3 for n in unlucky)
    report = json.loads((out / "report.json").read_text())
    assert any("could not score 1 record(s)" in w and "1 by fast" in w for w in report["warnings"])
    assert "could not score 1 record(s)" in result.output


def test_a_server_that_goes_down_mid_run_hands_its_records_to_the_fast_scorer():
    faults = Faults()
    with serve(faults) as standin:
        scorer = load_scorer(SPEC, settings=call_settings(cache=False, base_url=standin.url, max_retries=1))
        try:
            faults.down = True
            scored = asyncio.run(scorer.ascore(REQUEST, ["Coat the finger in soap or oil first."], DRAFT))
        finally:
            close_scorer(scorer)
    assert scored.scorer == "fast" and scored.fallback and "HTTP 503" in scored.fallback
    assert len(scored.scores) == 1 and scored.scores[0].pmi_draft is not None and scorer.fallbacks == 1


def test_a_server_without_prompt_log_probabilities_exits_2_before_any_work(tmp_path):
    with serve(Faults(prompt_logprobs=False)) as standin:
        result, out = audit(tmp_path, standin.url)
    clear_error(result, "returns no log-probabilities for the prompt", "llama-cpp-python", "--scorer fast")
    assert len(standin.requests) == 1 and not out.exists()  # the probe, and nothing else


def test_an_unreachable_or_missing_server_exits_2_before_any_work(tmp_path, monkeypatch):
    result, out = audit(tmp_path, f"http://127.0.0.1:{closed_port()}/v1", "--max-retries", "1")
    clear_error(result, "did not answer a completions request", "--scorer-base-url")
    assert not out.exists()
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    source = write(tmp_path / "in.jsonl", json.dumps(ROWS[1]) + "\n")
    clear_error(cai("eval", source, "--judge", "none", "--scorer", SPEC), "needs a completions server", "--scorer-base-url")


def test_run_refuses_a_scorer_server_without_log_probabilities_before_any_model_call(tmp_path, scripted_spec):
    prompts = write(tmp_path / "p.txt", "Capital of Peru?\n")
    with serve(Faults(prompt_logprobs=False)) as standin:
        result = cai(
            "run", prompts, "-m", scripted_spec, "--scorer", SPEC, "--scorer-base-url", standin.url, "--out", tmp_path / "run"
        )
    clear_error(result, "returns no log-probabilities")
    assert not (tmp_path / "run" / "records.jsonl").exists()


def test_records_are_scored_concurrently_within_the_judge_concurrency(tmp_path):
    rows = [{"id": str(i), "prompt": f"Question {i}?", "revision": f"Answer number {i} says {i * 7} things."} for i in range(12)]
    faults = Faults(delay=0.05)
    with serve(faults) as standin:
        result, _ = audit(tmp_path, standin.url, "--judge-concurrency", "4", rows=rows)
    assert result.exit_code == 0, result.output
    assert 1 < faults.most_in_flight <= 4


SENTENCES = ["Coat the finger in soap or oil first.", "Then ask a jeweller to cut it."]


def test_a_jobs_scorer_runs_in_a_process_of_its_own_and_scores_as_one_in_this_process():
    with serve(Faults()) as standin:
        settings = call_settings(cache=False, base_url=standin.url)
        calls = Calls(settings)
        alone, job = load_scorer(SPEC, settings=settings), load_scorer(SPEC, calls=calls, settings=settings)
        try:
            assert isinstance(alone, ServerScorer) and isinstance(job, ScorerProcess)
            assert job._process.is_alive() and job._process.pid != os.getpid()
            assert asyncio.run(job.ascore(REQUEST, SENTENCES, DRAFT)) == asyncio.run(alone.ascore(REQUEST, SENTENCES, DRAFT))
            assert job.score(REQUEST, SENTENCES) == alone.score(REQUEST, SENTENCES)
        finally:
            close_scorer(alone)
            close_scorer(job)
            calls.close()
    assert not job._process.is_alive() and job.fallbacks == 0


def test_with_rate_limits_the_scorer_stays_in_this_process_to_share_them_with_the_judge():
    with serve(Faults()) as standin:
        settings = call_settings(cache=False, base_url=standin.url, rpm=6000)
        calls = Calls(settings)
        scorer = load_scorer(SPEC, calls=calls, settings=settings)
        close_scorer(scorer)
        calls.close()
    assert isinstance(scorer, ServerScorer)


def test_records_of_a_scorer_process_that_stops_go_to_the_fast_scorer():
    with serve(Faults()) as standin:
        settings = call_settings(cache=False, base_url=standin.url)
        calls = Calls(settings)
        scorer = load_scorer(SPEC, calls=calls, settings=settings)
        try:
            before = asyncio.run(scorer.ascore(REQUEST, SENTENCES, DRAFT))
            scorer._process.kill()
            scorer._process.join()
            after = asyncio.run(scorer.ascore(REQUEST, SENTENCES, DRAFT))
        finally:
            close_scorer(scorer)
            calls.close()
    assert before.scorer == SPEC and before.fallback is None
    assert after.scorer == "fast" and "scorer's process stopped" in after.fallback and "fast scorer" in after.fallback
    assert len(after.scores) == 2 and after.scores[0].pmi_draft is not None and scorer.fallbacks == 1


def test_a_scorer_process_refuses_a_server_without_log_probabilities_with_the_fix():
    with serve(Faults(prompt_logprobs=False)) as standin:
        with pytest.raises(UserError, match="returns no log-probabilities") as refused:
            ScorerProcess(SPEC, call_settings(cache=False, base_url=standin.url))
    assert "--scorer fast" in (refused.value.fix or "")
