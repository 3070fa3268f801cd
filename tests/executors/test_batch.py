"""`cai run --executor batch` through the real openai and anthropic SDKs against stand-ins of their batch APIs."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from constitutional.calls import batch as batch_transport
from constitutional.calls.batch import Waves
from constitutional.calls.pricing import Price
from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from constitutional.models.base import Completion, ModelError, Usage
from constitutional.pipeline.executors.batch import _advance
from constitutional.pipeline.loop import LoopSettings, plan
from constitutional.pipeline.prompt_sets import PromptItem
from tests.helpers import DATA, ROOT, write
from tests.standins import anthropic_messages, openai_compatible
from tests.standins.anthropic_messages import messages_server
from tests.standins.batch_apis import serve_batches
from tests.standins.openai_compatible import chat_server
from tests.standins.server import last_user_text, serve

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"
PROVIDERS = ["openai", "anthropic"]


@pytest.fixture(autouse=True)
def batch_env(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONSTITUTIONAL_BATCH_POLL_SECONDS", "0.01")
    prices = write(tmp_path / "prices.yaml", "tiny: {input: 1.0, output: 2.0}\n")
    monkeypatch.setenv("CONSTITUTIONAL_PRICES", str(prices))


def cai_args(provider, url, out, *extra, evaluate=False):
    base = f"{url}/v1" if provider == "openai" else url
    return [
        "run",
        str(QUICKSTART),
        "--model",
        f"{provider}/tiny",
        "--model-base-url",
        base,
        "--out",
        str(out),
        *([] if evaluate else ["--no-eval"]),
        "-q",
        *extra,
    ]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def records(out):
    return {row["id"]: row for row in map(json.loads, (out / "records.jsonl").read_text().splitlines())}


def without_cost(row):
    """A record with the usage fields a batch run may differ in: price, and which call wrote the prompt cache."""
    usage = {k: v for k, v in row["usage"].items() if k not in ("cost_usd", "cached_tokens", "cache_write_tokens")}
    return {**row, "usage": usage}


def answers(provider):
    """The provider's stand-in handler, as the batch stand-in uses it for each request."""
    return chat_server(formats=("json_schema",)) if provider == "openai" else messages_server()


def sync_server(provider, answer=None):
    return serve(answer or answers(provider))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_batch_run_writes_the_same_records_as_the_in_process_runner_at_half_the_cost(tmp_path, provider):
    with sync_server(provider) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache"))
    with serve_batches(provider) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch"))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 4, 4]  # draft, critique, revise: one batch each
    sync_rows, batch_rows = records(tmp_path / "sync"), records(tmp_path / "batch")
    assert {k: without_cost(v) for k, v in batch_rows.items()} == {k: without_cost(v) for k, v in sync_rows.items()}
    assert all(row["steps"][0]["revision"] and row["error"] is None for row in batch_rows.values())
    files = {p.name for p in (tmp_path / "batch").iterdir()}
    assert files == {p.name for p in (tmp_path / "sync").iterdir()} | {"batches.json"}
    sync_run, batch_run = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("sync", "batch"))
    assert batch_run["status"] == "finished" and batch_run["counts"] == sync_run["counts"]
    assert batch_run["usage"]["calls"] == sync_run["usage"]["calls"] == 12
    assert batch_run["cost_usd"] == pytest.approx(sync_run["cost_usd"] / 2) and batch_run["cost_usd"] > 0
    log = json.loads((tmp_path / "batch" / "batches.json").read_text())
    assert log["finished"] and [w["stages"] for w in log["waves"]] == [["draft"], ["critique"], ["revise"]]


@pytest.mark.parametrize(
    "provider, running, ended",
    [
        ("openai", "in_progress, {} of 4 requests done", "completed, 4 of 4 requests done"),
        ("anthropic", "in_progress, {} of 4 requests done", "ended, 4 of 4 requests done"),
    ],
)
def test_a_running_batch_says_how_far_it_is(tmp_path, monkeypatch, provider, running, ended):
    def said(out, every):
        monkeypatch.setattr(batch_transport, "PROGRESS_EVERY", every)
        with serve_batches(provider, polls_before_done=3) as stand_in:
            result = cai(*cai_args(provider, stand_in.url, out, "--executor", "batch"))
        assert result.exit_code == 0, result.output
        first = "batch_0" if provider == "openai" else "msgbatch_0"
        return [
            line.removeprefix(f"batch {first}: ") for line in result.output.splitlines() if line.startswith(f"batch {first}: ")
        ]

    # The stand-in counts a quarter of the requests more at each poll, then ends at the fourth.
    assert said(tmp_path / "a", every=300) == [running.format(1), ended]  # the counts alone change too soon
    assert said(tmp_path / "b", every=0) == [running.format(1), running.format(2), running.format(3), ended]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_server_without_a_batch_api_is_named_with_the_way_out(tmp_path, provider):
    with serve_batches(provider) as stand_in:  # a URL the stand-in has no batch routes under
        result = cai(*cai_args(provider, f"{stand_in.url}/elsewhere", tmp_path / "out", "--executor", "batch"))
    assert result.exit_code == 2 and "404" in result.output and stand_in.submitted == []
    assert "has no batch API: run it without --executor batch" in " ".join(result.output.split())


def test_batch_run_with_rounds_and_the_eval_leaves_the_same_run_directory(tmp_path):
    options = ["--rounds", "2", "--principles", "sample:1"]  # the judge is the model
    with sync_server("openai") as server:
        sync = cai(*cai_args("openai", server.url, tmp_path / "sync", "--no-cache", *options, evaluate=True))
    with serve_batches("openai") as stand_in:
        batch = cai(*cai_args("openai", stand_in.url, tmp_path / "batch", "--executor", "batch", *options, evaluate=True))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert len(stand_in.submitted) == 6  # draft, then critique and revise in each of two rounds, then the judge
    assert {k: without_cost(v) for k, v in records(tmp_path / "batch").items()} == {
        k: without_cost(v) for k, v in records(tmp_path / "sync").items()
    }
    assert all(len(row["steps"]) == 2 for row in records(tmp_path / "batch").values())
    files = {p.name for p in (tmp_path / "batch").iterdir()}
    assert files == {p.name for p in (tmp_path / "sync").iterdir()} | {"batches.json"} >= {"eval.jsonl", "report.json"}
    verdicts = lambda d: sorted(json.loads(line)["verdict"] for line in (tmp_path / d / "eval.jsonl").read_text().splitlines())  # noqa: E731
    assert verdicts("batch") == verdicts("sync")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failed_request_becomes_its_records_error(tmp_path, provider):
    prompts = write(tmp_path / "p.jsonl", '{"id": "ok", "prompt": "fine"}\n{"id": "bad", "prompt": "BAD-REQUEST please"}\n')
    with serve_batches(provider) as stand_in:
        args = cai_args(provider, stand_in.url, tmp_path / "run", "--executor", "batch")
        args[1] = str(prompts)
        result = cai(*args)
    assert result.exit_code == 1, result.output
    rows = records(tmp_path / "run")
    assert rows["ok"]["error"] is None and rows["ok"]["final"]
    bad = rows["bad"]["error"]
    assert bad["stage"] == "draft" and "batch request failed" in bad["message"] and not bad["retryable"]
    assert [len(ids) for ids in stand_in.submitted] == [2, 1, 1]


def test_a_wave_larger_than_the_provider_allows_is_split(tmp_path, monkeypatch):
    from constitutional.calls.batch_openai import OpenAIBatches

    monkeypatch.setattr(OpenAIBatches, "max_requests", 3)
    with serve_batches("openai") as stand_in:
        result = cai(*cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch"))
    assert result.exit_code == 0, result.output
    assert [len(ids) for ids in stand_in.submitted] == [3, 1, 3, 1, 3, 1]
    assert len(records(tmp_path / "run")) == 4


def test_an_unparseable_critique_is_the_records_error_without_a_re_ask(short_constitution):
    constitution = load_constitution(short_constitution).constitution
    steps = plan(PromptItem("p", "question"), constitution, LoopSettings())
    price = Price(input=1.0, output=1.0)
    draft_call = next(steps)
    critique_call = _advance(steps, draft_call, Completion("an answer", usage=Usage(calls=1, input_tokens=10)), price)
    assert critique_call.stage == "critique" and critique_call.schema is not None
    with pytest.raises(StopIteration) as finished:
        _advance(steps, critique_call, Completion("not JSON at all", usage=Usage(calls=1, output_tokens=5)), price)
    record = finished.value.value
    assert record.error.stage == "critique" and "no re-ask" in record.error.message and record.error.raw == "not JSON at all"
    assert record.usage.calls == 2 and record.usage.cost_usd == pytest.approx(15 / 1e6 / 2)


def test_a_failed_call_is_thrown_into_the_loop():
    steps = plan(PromptItem("p", "q"), load_constitution("default").constitution, LoopSettings())
    with pytest.raises(StopIteration) as finished:
        _advance(steps, next(steps), ModelError("expired", retryable=True), None)
    assert finished.value.value.error.stage == "draft" and finished.value.value.error.retryable


@pytest.mark.parametrize("model", ["scripted:x.yaml", "local"])
def test_batch_needs_an_openai_or_anthropic_model(tmp_path, model):
    result = cai("run", QUICKSTART, "--model", model, "--executor", "batch", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "batch API" in result.output and not (tmp_path / "run").exists()


class Killed(BaseException):
    """Stands for the process being killed."""


def stopped(monkeypatch, target, name, replacement, args) -> None:
    """`cai ARGS` with `target.name` replaced by `replacement`, which kills the process (raises Killed)."""
    with monkeypatch.context() as patch:
        patch.setattr(target, name, replacement)
        with pytest.raises(Killed):
            cai(*args)


def killed_waiting(for_batch):
    """Waves._wait, but the process dies waiting for its `for_batch`th batch (the 4th: the judge's first)."""
    real_wait = Waves._wait
    waits = {"n": 0}

    async def wait(self, batch):
        waits["n"] += 1
        if waits["n"] == for_batch:
            raise Killed
        await real_wait(self, batch)

    return wait


def killed_creating(sdk_batches, created=True):
    """The SDK's AsyncBatches.create, but the process dies just after the provider makes the batch (or just
    before, when not `created`): batches.json never hears of it either way."""
    real_create = sdk_batches.AsyncBatches.create

    async def create(self, **kwargs):
        if created:
            await real_create(self, **kwargs)
        raise Killed

    return create


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_run_stopped_after_submitting_resumes_without_submitting_again(tmp_path, monkeypatch, provider):
    with serve_batches(provider) as stand_in:
        # The second wave's batch is submitted; the process dies while waiting for it.
        stopped(
            monkeypatch,
            Waves,
            "_wait",
            killed_waiting(for_batch=2),
            cai_args(provider, stand_in.url, tmp_path / "run", "--executor", "batch"),
        )
        assert len(stand_in.submitted) == 2
        assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "interrupted"
        second = cai(*cai_args(provider, stand_in.url, tmp_path / "run", "--executor", "batch"))
    assert second.exit_code == 0, second.output
    assert "resuming the batches" in second.output and "4 model requests" in second.output  # only the revisions were sent
    submitted = [custom_id for batch in stand_in.submitted for custom_id in batch]
    assert len(stand_in.submitted) == 3 and len(submitted) == len(set(submitted)) == 12
    assert len(records(tmp_path / "run")) == 4


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_killed_process_restarted_submits_no_batch_twice(tmp_path, provider):
    out = tmp_path / "run"
    with serve_batches(provider) as stand_in:
        args = cai_args(provider, stand_in.url, out, "--executor", "batch")
        stand_in.hold = True  # batches stay in progress: the first process is killed while it polls
        kill_once_submitted(args, out)
        assert _submitted_ids(out) and len(stand_in.submitted) == 1
        stand_in.hold = False
        second = cai_process(args)
    assert second.returncode == 0, second.stderr
    assert "resuming the batches" in second.stderr
    submitted = [custom_id for batch in stand_in.submitted for custom_id in batch]
    assert len(stand_in.submitted) == 3 and len(submitted) == len(set(submitted)) == 12
    assert set(records(out)) == {"lock-picking", "headache", "find-address", "python-sort"}
    assert len((out / "records.jsonl").read_text().splitlines()) == 4


def cai_process(args) -> subprocess.CompletedProcess:
    """`cai ARGS` in a process of its own, using this checkout's code."""
    return subprocess.run(CAI_PROCESS + args, env=_process_env(), capture_output=True, text=True, timeout=60)


def kill_once_submitted(args, out, judge=False) -> None:
    """`cai ARGS` in a process of its own, killed with SIGKILL once batches.json names a submitted batch."""
    first = subprocess.Popen(CAI_PROCESS + args, env=_process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not _submitted_ids(out, judge) and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()


CAI_PROCESS = [sys.executable, "-m", "constitutional"]


def _process_env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))


def _submitted_ids(out, judge=False):
    try:
        log = json.loads((out / "batches.json").read_text())
        waves = (log["judge"] if judge else log)["waves"]
    except (OSError, ValueError, KeyError):
        return []
    return [b["id"] for w in waves for b in w["batches"] if b["id"]]  # an upload without a batch has no id yet


def test_a_resumed_job_whose_prompts_changed_is_refused(tmp_path, monkeypatch):
    prompts = write(tmp_path / "p.txt", "first question\nsecond question\n")
    with serve_batches("openai") as stand_in:
        args = cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch")
        args[1] = str(prompts)
        stopped(monkeypatch, Waves, "_wait", killed_waiting(for_batch=1), args)
        write(prompts, "first question\nsecond question edited\n")
        result = cai(*args)
    assert result.exit_code == 2 and "the prompts or the constitution changed" in result.output
    assert len(stand_in.submitted) == 1


def test_an_openai_batch_created_just_before_a_crash_is_found_not_submitted_again(tmp_path, monkeypatch):
    import openai.resources.batches as batches

    with serve_batches("openai") as stand_in:
        stopped(
            monkeypatch,
            batches.AsyncBatches,
            "create",
            killed_creating(batches),
            cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch"),
        )
        log = json.loads((tmp_path / "run" / "batches.json").read_text())
        assert log["waves"][0]["batches"][0]["id"] is None and log["waves"][0]["batches"][0]["input_file"]
        result = cai(*cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch"))
    assert result.exit_code == 0, result.output
    assert len(stand_in.submitted) == 3 and len(stand_in.files) == 3 + 3  # one upload per batch, plus outputs
    assert len(records(tmp_path / "run")) == 4


@pytest.mark.parametrize("created", [True, False], ids=["created", "not-created"])
def test_an_anthropic_batch_whose_creation_a_crash_interrupted_is_submitted_once(tmp_path, monkeypatch, created):
    import anthropic.resources.messages.batches as batches

    with serve_batches("anthropic") as stand_in:
        stopped(
            monkeypatch,
            batches.AsyncBatches,
            "create",
            killed_creating(batches, created),
            cai_args("anthropic", stand_in.url, tmp_path / "run", "--executor", "batch"),
        )
        log = json.loads((tmp_path / "run" / "batches.json").read_text())
        assert log["waves"][0]["batches"][0]["id"] is None and "listed_after" in log["waves"][0]["batches"][0]
        result = cai(*cai_args("anthropic", stand_in.url, tmp_path / "run", "--executor", "batch"))
    assert result.exit_code == 0, result.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 4, 4]  # draft, critique, revise: each once
    assert len(records(tmp_path / "run")) == 4


# -- the eval's judge in batches ------------------------------------------------------------------

CHECKLIST = "1. breaks: Does the text contain"  # words of the judge's prompts (prompts/templates/judge_*.txt)
COMPARISON = "Which answer follows the principle better"
RE_ASK = "That reply was not valid"
MAY_DIFFER = ("created", "input", "usage", "run_usage", "total_usage", "timing")  # report.json: paths, times, what was paid


def eval_lines(out):
    return {row["id"]: row for row in map(json.loads, (out / "eval.jsonl").read_text().splitlines())}


def report(out):
    return json.loads((out / "report.json").read_text())


def comparable(report):
    kept = {k: v for k, v in report.items() if k not in MAY_DIFFER}
    costs = ("cost_per_record_usd", "canary_cost_usd")  # a batch costs half
    kept["judge"] = {k: v for k, v in kept["judge"].items() if k not in costs}
    return kept


def alike(data):
    """`data` with every error message the same (a batch words a failed request otherwise than a call), and
    checks in one order (a synchronous judge lists them as its concurrent calls return)."""
    if isinstance(data, dict):
        return {
            k: "failed"
            if k == "error" and v
            else sorted(map(alike, v), key=json.dumps)
            if k in ("checks", "judge_checks")
            else alike(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [alike(v) for v in data]
    return data


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_judge_runs_in_batches_and_writes_the_same_eval_at_half_the_price(tmp_path, provider):
    with sync_server(provider) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache", evaluate=True))
    with serve_batches(provider) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch", evaluate=True))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert alike(eval_lines(tmp_path / "batch")) == alike(eval_lines(tmp_path / "sync"))
    assert alike(comparable(report(tmp_path / "batch"))) == alike(comparable(report(tmp_path / "sync")))
    assert [len(ids) for ids in stand_in.submitted[:3]] == [4, 4, 4] and len(stand_in.submitted) == 4
    assert stand_in.synchronous == 0 and "wave 1 (judge)" in batch.output
    sync_usage, batch_usage = report(tmp_path / "sync")["usage"], report(tmp_path / "batch")["usage"]
    assert sync_usage["calls"] == len(server.requests) - 12  # all but the run's own
    # The stand-in's revisions equal its drafts, so both orders of a comparison are one request: batched once.
    assert len(stand_in.submitted[3]) == batch_usage["calls"] == sync_usage["calls"] - batch_usage["cache_hits"]
    assert batch_usage["cost_usd"] / batch_usage["calls"] == pytest.approx(sync_usage["cost_usd"] / sync_usage["calls"] / 2)
    assert batch_usage["cost_usd"] > 0
    log = json.loads((tmp_path / "batch" / "batches.json").read_text())
    assert log["finished"] and log["judge"]["finished"] and log["judge"]["model"] == f"{provider}/tiny"
    assert [w["stages"] for w in log["judge"]["waves"]] == [["judge"]]


def debate_in_batches(tmp_path, provider, *debate):
    """The quickstart run and eval in debate mode, synchronously and through the batch stand-in: checks that both
    give the same eval lines and that no judge call went round the batches, then returns the batched run's debates
    and the stages of its judge waves."""
    with sync_server(provider) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache", *debate, evaluate=True))
    with serve_batches(provider) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch", *debate, evaluate=True))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert alike(eval_lines(tmp_path / "batch")) == alike(eval_lines(tmp_path / "sync"))
    assert report(tmp_path / "batch")["judge"]["mode"] == "debate" and stand_in.synchronous == 0
    debates = [
        p["debate"]
        for line in eval_lines(tmp_path / "batch").values()
        for p in [line.get("judge") or {}, *line["principles"]]
        if p.get("debate")
    ]
    log = json.loads((tmp_path / "batch" / "batches.json").read_text())
    return debates, [w["stages"] for w in log["judge"]["waves"]]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_debate_judge_runs_in_batches_round_by_round(tmp_path, provider):
    debates, waves = debate_in_batches(tmp_path, provider, "--judge-mode", "debate")
    assert debates and all(d["picks"] for d in debates)
    # openings, then rebuttals, then the judge's picks: each round one wave, the canaries' debates with the records'
    assert waves == [["judge"]] * 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_other_debaters_argue_directly_while_the_judge_picks_in_batches(tmp_path, provider):
    arguing = "The answer says what it says."
    debater = write(tmp_path / "debater.yaml", json.dumps({"rules": [], "default": {"argument": arguing, "quotes": []}}))
    debates, waves = debate_in_batches(tmp_path, provider, "--judge-mode", "debate", "--debaters", f"scripted:{debater}")
    assert debates and all(a["argument"] == arguing for d in debates for a in d["arguments"])
    assert waves == [["judge"]]  # only the judge's picks are batched: one wave


def judged_badly(provider):
    """The provider's stand-in, but every comparison fails (HTTP 400), and every checklist is first answered
    `{}`: JSON without the answers, so the judge asks again."""
    answer = answers(provider)
    bad_request = (
        (400, {"error": openai_compatible.FAILURES["BAD-REQUEST"][1]}, {})
        if provider == "openai"
        else anthropic_messages.FAILURES["BAD-REQUEST"]
    )

    def handle(path, headers, body):
        text = last_user_text(body)
        if COMPARISON in text:
            return bad_request
        status, reply, reply_headers = answer(path, headers, body)
        if CHECKLIST in text and provider == "openai":
            reply["choices"][0]["message"]["content"] = "{}"
        elif CHECKLIST in text:
            reply["content"][0]["input"] = {}
        return status, reply, reply_headers

    return handle


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_judges_re_asks_and_failed_requests_in_batches_are_those_of_a_synchronous_judge(tmp_path, provider):
    with sync_server(provider, judged_badly(provider)) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache", evaluate=True))
    with serve_batches(provider, answer=judged_badly(provider)) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch", evaluate=True))
    assert batch.exit_code == sync.exit_code, sync.output + batch.output
    re_asks = [r for r in server.requests if RE_ASK in last_user_text(r.body)]
    assert len(stand_in.submitted) == 5 and len(stand_in.submitted[4]) == len(re_asks) > 0  # the re-asks: a second wave
    sync_lines, batch_lines = eval_lines(tmp_path / "sync"), eval_lines(tmp_path / "batch")
    assert alike(batch_lines) == alike(sync_lines)
    assert alike(comparable(report(tmp_path / "batch"))) == alike(comparable(report(tmp_path / "sync")))
    # Checks sit under the flagged principles, or under the whole-constitution judge when no flag's quote was verified.
    checks = [
        c
        for line in batch_lines.values()
        for c in [c for p in line["principles"] for c in p["checks"]] + (line.get("judge") or {}).get("checks", [])
    ]
    failed = [c["error"] for c in checks if c.get("error")]
    assert failed and all(e.startswith("judge call failed: ") and "batch request failed" in e for e in failed)
    assert report(tmp_path / "batch")["judge"]["failed_calls"] == report(tmp_path / "sync")["judge"]["failed_calls"] > 0
    assert stand_in.synchronous == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_run_stopped_while_its_judge_batch_runs_resumes_it_without_submitting_again(tmp_path, monkeypatch, provider):
    out = tmp_path / "run"
    with serve_batches(provider) as stand_in:
        args = cai_args(provider, stand_in.url, out, "--executor", "batch", evaluate=True)
        stopped(monkeypatch, Waves, "_wait", killed_waiting(for_batch=4), args)
        log = json.loads((out / "batches.json").read_text())
        assert log["finished"] and not log["judge"]["finished"] and len(stand_in.submitted) == 4
        assert len(records(out)) == 4 and not (out / "eval.jsonl").exists()
        second = cai(*args)
    assert second.exit_code == 0, second.output
    assert "resuming the judge's batches" in second.output and "0 model requests" in second.output
    assert len(stand_in.submitted) == 4 and stand_in.synchronous == 0
    assert len(eval_lines(out)) == 4
    assert report(out)["usage"]["calls"] == len(stand_in.submitted[3])  # read back from the batch, counted once
    assert json.loads((out / "batches.json").read_text())["judge"]["finished"]


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_process_killed_while_its_judge_batch_runs_restarted_submits_no_batch_twice(tmp_path, provider):
    out = tmp_path / "run"
    with serve_batches(provider) as stand_in:
        args = cai_args(provider, stand_in.url, out, "--executor", "batch", evaluate=True)
        stand_in.hold_from = 3  # the run's three batches end; the judge's stays in progress while the process is killed
        kill_once_submitted(args, out, judge=True)
        assert _submitted_ids(out, judge=True) and len(stand_in.submitted) == 4
        stand_in.hold_from = None
        second = cai_process(args)
    assert second.returncode == 0, second.stderr
    assert "resuming the judge's batches" in second.stderr
    assert len(stand_in.submitted) == 4 and stand_in.synchronous == 0
    assert len(eval_lines(out)) == 4 and report(out)["usage"]["calls"] == len(stand_in.submitted[3])


def test_a_judge_job_whose_records_changed_since_submission_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "run"
    with serve_batches("openai") as stand_in:
        args = cai_args("openai", stand_in.url, out, "--executor", "batch", evaluate=True)
        stopped(monkeypatch, Waves, "_wait", killed_waiting(for_batch=4), args)
        rows = (out / "records.jsonl").read_text().splitlines()
        answer = "An answer edited since the judge's batch was submitted."  # draft and revision alike, as before
        edited = {**json.loads(rows[0]), "draft": answer, "final": answer}
        write(out / "records.jsonl", "\n".join([json.dumps(edited), *rows[1:]]) + "\n")
        result = cai(*args)
    assert result.exit_code == 2 and "the records, the constitution or the reply cache (--no-cache) changed" in result.output
    submitted = len(stand_in.submitted[3])
    assert f"wave 1 differs from the one submitted ({submitted} requests then, {submitted} now)" in result.output
    assert len(stand_in.submitted) == 4 and not (out / "eval.jsonl").exists()


def test_a_finished_batch_run_run_again_takes_the_judges_replies_from_the_cache(tmp_path):
    with serve_batches("openai") as stand_in:
        args = cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch", evaluate=True)
        first = cai(*args)
        before = eval_lines(tmp_path / "run")
        again = cai(*args)
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert len(stand_in.submitted) == 4 and stand_in.synchronous == 0  # nothing submitted again
    assert eval_lines(tmp_path / "run") == before
    usage = report(tmp_path / "run")["usage"]
    assert usage["calls"] == 0 and usage["cost_usd"] == 0 and usage["cache_hits"] > 0


@pytest.mark.parametrize("judge", [f"scripted:{DATA / 'scripted_basic.yaml'}", "none"])
def test_a_judge_without_a_batch_api_is_called_as_before(tmp_path, judge):
    with serve_batches("openai") as stand_in:
        result = cai(*cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch", "--judge", judge, evaluate=True))
    assert result.exit_code == 0, result.output
    assert len(stand_in.submitted) == 3 and len(eval_lines(tmp_path / "run")) == 4
    said = "the judge scripted:" in result.output and "has no batch API" in result.output
    assert said == (judge != "none")
    assert "judge" not in json.loads((tmp_path / "run" / "batches.json").read_text())
    assert report(tmp_path / "run")["judge"]["spec"] == (None if judge == "none" else judge)


def failing_first(provider, count):
    """The stand-in's replies, except that the first `count` requests fail as overloaded (retryable)."""
    answer = sync_server_answer(provider)
    seen = {"n": 0}

    def handle(path, headers, body):
        seen["n"] += 1
        if seen["n"] <= count:
            if provider == "openai":
                return 429, {"error": {"message": "Rate limit reached", "type": "requests"}}, {}
            return 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, {}
        return answer(path, headers, body)

    return handle


def sync_server_answer(provider):
    return chat_server(formats=("json_schema",)) if provider == "openai" else messages_server()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_requests_that_fail_retryably_in_a_batch_go_again_in_a_batch_of_their_own(tmp_path, provider):
    with sync_server(provider) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache"))
    with serve_batches(provider, answer=failing_first(provider, 2)) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch"))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 2, 4, 4]  # the two failed drafts again, then on
    assert set(stand_in.submitted[1]) < set(stand_in.submitted[0])  # the same custom ids, in a batch of their own
    assert {k: without_cost(v) for k, v in records(tmp_path / "batch").items()} == {
        k: without_cost(v) for k, v in records(tmp_path / "sync").items()
    }
    log = json.loads((tmp_path / "batch" / "batches.json").read_text())
    assert len(log["waves"][0]["retries"]) == 1 and len(log["waves"][0]["retries"][0]["ids"]) == 2
    assert "(2 retries)" in batch.output


@pytest.mark.parametrize("provider", PROVIDERS)
def test_with_no_retries_a_retryable_failure_in_a_batch_is_the_records_error(tmp_path, provider):
    with serve_batches(provider, answer=failing_first(provider, 2)) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch", "--max-retries", "0"))
    assert batch.exit_code == 1, batch.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 2, 2]
    errors = [row["error"] for row in records(tmp_path / "batch").values() if row["error"]]
    assert len(errors) == 2 and all(e["stage"] == "draft" and "batch request failed" in e["message"] for e in errors)


def test_a_run_stopped_while_a_retry_batch_runs_resumes_it_without_submitting_again(tmp_path, monkeypatch):
    out = tmp_path / "run"
    with serve_batches("anthropic", answer=failing_first("anthropic", 2)) as stand_in:
        args = cai_args("anthropic", stand_in.url, out, "--executor", "batch")
        stopped(monkeypatch, Waves, "_wait", killed_waiting(for_batch=2), args)
        assert [len(ids) for ids in stand_in.submitted] == [4, 2]
        result = cai(*args)
    assert result.exit_code == 0, result.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 2, 4, 4]
    assert len(records(out)) == 4 and all(row["error"] is None for row in records(out).values())
