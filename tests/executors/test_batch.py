"""`cai run --executor batch` through the real openai and anthropic SDKs against stand-ins of their batch APIs."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from constitutional.calls import batch as batch_transport
from constitutional.calls.batch import Batcher
from constitutional.cli.app import app
from tests.helpers import DATA, ROOT, write
from tests.standins import anthropic_messages, openai_compatible
from tests.standins.anthropic_messages import messages_server
from tests.standins.batch_apis import serve_batches
from tests.standins.openai_compatible import chat_server
from tests.standins.server import last_user_text, serve

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"
PROVIDERS = ["openai", "anthropic"]
RE_ASK = "That reply was not valid"  # words of the structured re-ask (models/structured.py)


@pytest.fixture(autouse=True)
def batch_env(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONSTITUTIONAL_BATCH_POLL_SECONDS", "0.01")
    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "0.01")
    monkeypatch.setattr(batch_transport, "QUIET", 0.1)  # the requests of a stage come within milliseconds
    prices = write(tmp_path / "prices.yaml", "tiny: {input: 1.0, output: 2.0}\n")
    monkeypatch.setenv("CONSTITUTIONAL_PRICES", str(prices))


def cai_args(provider, url, out, *extra, evaluate=False, prompts=QUICKSTART):
    base = f"{url}/v1" if provider == "openai" else url
    return [
        "run",
        str(prompts),
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


def same_records(a, b):
    return {k: without_cost(v) for k, v in records(a).items()} == {k: without_cost(v) for k, v in records(b).items()}


def answers(provider):
    """The provider's stand-in handler, as the batch stand-in uses it for each request."""
    return chat_server(formats=("json_schema",)) if provider == "openai" else messages_server()


def sync_server(provider, answer=None):
    return serve(answer or answers(provider))


def batches(out, role="model"):
    """The role's batches saved in out/batches.json."""
    try:
        return json.loads((out / "batches.json").read_text())["roles"].get(role, [])
    except (OSError, ValueError, KeyError):
        return []


def submitted_ids(stand_in, batch_numbers=None):
    """How often each custom id was submitted, over every batch (or the batches numbered `batch_numbers`)."""
    chosen = stand_in.submitted if batch_numbers is None else [stand_in.submitted[n] for n in batch_numbers]
    return Counter(custom_id for ids in chosen for custom_id in ids)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_batch_run_writes_the_same_records_as_the_in_process_runner_at_half_the_cost(tmp_path, provider):
    with sync_server(provider) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache"))
    with serve_batches(provider) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch"))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 4, 4]  # draft, critique, revise: one batch each
    assert stand_in.synchronous == 0
    assert same_records(tmp_path / "batch", tmp_path / "sync")
    assert all(row["steps"][0]["revision"] and row["error"] is None for row in records(tmp_path / "batch").values())
    files = {p.name for p in (tmp_path / "batch").iterdir()}
    assert files == {p.name for p in (tmp_path / "sync").iterdir()} | {"batches.json"}
    sync_run, batch_run = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("sync", "batch"))
    assert batch_run["status"] == "finished" and batch_run["counts"] == sync_run["counts"]
    assert batch_run["usage"]["calls"] == sync_run["usage"]["calls"] == 12
    assert batch_run["cost_usd"] == pytest.approx(sync_run["cost_usd"] / 2) and batch_run["cost_usd"] > 0
    saved = batches(tmp_path / "batch")
    assert [b["status"] for b in saved] == ["fetched"] * 3
    assert [b["custom_ids"] for b in saved] == stand_in.submitted


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
        assert f"the model's 4 requests submitted as batch {first}" in result.output
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
    assert records(tmp_path / "out") == {}  # no prompt is marked done: the same command runs them all once mended


def test_batch_run_with_rounds_and_the_eval_leaves_the_same_run_directory(tmp_path):
    # The judge is the model. Without the reply cache, the batches answer a critique that repeats an earlier one (the
    # stand-in revises nothing) as the server does, so the records count the same calls.
    options = ["--rounds", "2", "--principles", "sample:1", "--no-cache"]
    with sync_server("openai") as server:
        sync = cai(*cai_args("openai", server.url, tmp_path / "sync", *options, evaluate=True))
    with serve_batches("openai") as stand_in:
        batch = cai(*cai_args("openai", stand_in.url, tmp_path / "batch", "--executor", "batch", *options, evaluate=True))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    # draft, then critique and revise in each of two rounds; then the judge: the canaries, then the records
    assert len(batches(tmp_path / "batch")) == 5 and len(batches(tmp_path / "batch", "judge")) == 2
    assert len(stand_in.submitted) == 7 and stand_in.synchronous == 0
    assert same_records(tmp_path / "batch", tmp_path / "sync")
    assert all(len(row["steps"]) == 2 for row in records(tmp_path / "batch").values())
    files = {p.name for p in (tmp_path / "batch").iterdir()}
    assert files == {p.name for p in (tmp_path / "sync").iterdir()} | {"batches.json"} >= {"eval.jsonl", "report.json"}
    verdicts = lambda d: sorted(json.loads(line)["verdict"] for line in (tmp_path / d / "eval.jsonl").read_text().splitlines())  # noqa: E731
    assert verdicts("batch") == verdicts("sync")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failed_request_becomes_its_records_error(tmp_path, provider):
    prompts = write(tmp_path / "p.jsonl", '{"id": "ok", "prompt": "fine"}\n{"id": "bad", "prompt": "BAD-REQUEST please"}\n')
    with serve_batches(provider) as stand_in:
        result = cai(*cai_args(provider, stand_in.url, tmp_path / "run", "--executor", "batch", prompts=prompts))
    assert result.exit_code == 1, result.output
    rows = records(tmp_path / "run")
    assert rows["ok"]["error"] is None and rows["ok"]["final"]
    bad = rows["bad"]["error"]
    assert bad["stage"] == "draft" and "batch request failed" in bad["message"] and not bad["retryable"]
    assert [len(ids) for ids in stand_in.submitted] == [2, 1, 1]


def test_a_stage_larger_than_the_provider_allows_is_split(tmp_path, monkeypatch):
    from constitutional.calls.batch_openai import OpenAIBatches

    monkeypatch.setattr(OpenAIBatches, "max_requests", 3)
    with serve_batches("openai") as stand_in:
        result = cai(*cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch"))
    assert result.exit_code == 0, result.output
    sizes = [len(ids) for ids in stand_in.submitted]  # a full batch goes at once: its prompts move on while others wait
    assert max(sizes) == 3 and sum(sizes) == len(submitted_ids(stand_in)) == 12
    assert len(records(tmp_path / "run")) == 4


def critiques_first_invalid(provider):
    """The provider's stand-in, but every critique is first answered `{}` (JSON without its fields): the re-ask, which
    carries the parse error, is answered properly."""
    answer = answers(provider)

    def handle(path, headers, body):
        status, reply, reply_headers = answer(path, headers, body)
        structured = body.get("response_format") if provider == "openai" else body.get("tools")
        if structured and RE_ASK not in last_user_text(body):
            if provider == "openai":
                reply["choices"][0]["message"]["content"] = "{}"
            else:
                reply["content"][0]["input"] = {}
        return status, reply, reply_headers

    return handle


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_critique_that_does_not_parse_is_re_asked_in_the_next_batch_as_in_process(tmp_path, provider):
    with sync_server(provider, critiques_first_invalid(provider)) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache"))
    with serve_batches(provider, answer=critiques_first_invalid(provider)) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch"))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert sum(RE_ASK in last_user_text(r.body) for r in server.requests) == 4
    assert [len(ids) for ids in stand_in.submitted] == [4, 4, 4, 4]  # drafts, critiques, their re-asks, revisions
    assert same_records(tmp_path / "batch", tmp_path / "sync")
    assert all(row["error"] is None and row["usage"]["calls"] == 4 for row in records(tmp_path / "batch").values())


@pytest.mark.parametrize("model", ["scripted:x.yaml", "local"])
def test_batch_needs_an_openai_or_anthropic_model(tmp_path, model):
    result = cai("run", QUICKSTART, "--model", model, "--executor", "batch", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "batch API" in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_reply_cache_serves_a_batch_run_and_no_batch_is_submitted_for_what_it_holds(tmp_path, provider):
    with serve_batches(provider) as stand_in:
        first = cai(*cai_args(provider, stand_in.url, tmp_path / "first", "--executor", "batch"))
        again = cai(*cai_args(provider, stand_in.url, tmp_path / "again", "--executor", "batch"))
        assert len(stand_in.submitted) == 3  # the second job, into a new directory, was served by the cache
        uncached = cai(*cai_args(provider, stand_in.url, tmp_path / "uncached", "--executor", "batch", "--no-cache"))
    assert first.exit_code == again.exit_code == uncached.exit_code == 0, first.output + again.output + uncached.output
    assert "0 model requests (0 retries), 12 cache hits" in again.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 4, 4] * 2  # without the cache, every stage again
    assert {row["final"] for row in records(tmp_path / "again").values()} == {
        row["final"] for row in records(tmp_path / "first").values()
    }
    assert json.loads((tmp_path / "again" / "run.json").read_text())["cost_usd"] == 0
    assert not (tmp_path / "again" / "batches.json").exists()


# -- restarts -------------------------------------------------------------------------------------


class Killed(BaseException):
    """Stands for the process being killed."""


def stopped(monkeypatch, target, name, replacement, args) -> None:
    """`cai ARGS` with `target.name` replaced by `replacement`, which kills the process (raises Killed)."""
    with monkeypatch.context() as patch:
        patch.setattr(target, name, replacement)
        with pytest.raises(Killed):
            cai(*args)


def killed_waiting(for_batch):
    """Batcher._wait, but the process dies waiting for its `for_batch`th batch."""
    real_wait = Batcher._wait
    waits = {"n": 0}

    async def wait(self, batch):
        waits["n"] += 1
        if waits["n"] == for_batch:
            raise Killed
        await real_wait(self, batch)

    return wait


def killed_creating(sdk_batches, created=True):
    """The SDK's AsyncBatches.create, but the process dies just after the provider makes the batch (or just
    before, when not `created`): batches.json never hears of its id either way."""
    real_create = sdk_batches.AsyncBatches.create

    async def create(self, **kwargs):
        if created:
            await real_create(self, **kwargs)
        raise Killed

    return create


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_run_stopped_after_submitting_resumes_without_submitting_again(tmp_path, monkeypatch, provider):
    out = tmp_path / "run"
    with serve_batches(provider) as stand_in:
        # The critiques' batch is submitted; the process dies while waiting for it.
        args = cai_args(provider, stand_in.url, out, "--executor", "batch")
        stopped(monkeypatch, Batcher, "_wait", killed_waiting(for_batch=2), args)
        assert len(stand_in.submitted) == 2 and [b["status"] for b in batches(out)] == ["fetched", "submitted"]
        assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
        second = cai(*args)
    assert second.exit_code == 0, second.output
    assert "resuming the model's batches" in second.output
    assert "4 cache hits" in second.output  # the drafts, read from the first batch before the process died
    assert len(stand_in.submitted) == 3 and set(submitted_ids(stand_in).values()) == {1}
    assert len(records(out)) == 4 and all(row["error"] is None for row in records(out).values())


def test_a_prompt_edited_since_its_batch_was_submitted_is_submitted_anew_and_the_rest_read_back(tmp_path, monkeypatch):
    prompts = write(tmp_path / "p.txt", "first question\nsecond question\n")
    out = tmp_path / "run"
    with serve_batches("openai") as stand_in:
        args = cai_args("openai", stand_in.url, out, "--executor", "batch", prompts=prompts)
        stopped(monkeypatch, Batcher, "_wait", killed_waiting(for_batch=1), args)
        write(prompts, "first question\nsecond question edited\n")
        result = cai(*args)
    assert result.exit_code == 0, result.output
    counts = submitted_ids(stand_in)  # the first draft read back; the edited prompt's draft, both critiques and revisions new
    assert len(counts) == sum(counts.values()) == 2 + 1 + 2 + 2
    assert sorted(row["prompt"] for row in records(out).values()) == ["first question", "second question edited"]


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_killed_process_restarted_submits_no_batch_twice(tmp_path, provider):
    out = tmp_path / "run"
    with serve_batches(provider) as stand_in:
        args = cai_args(provider, stand_in.url, out, "--executor", "batch")
        stand_in.hold = True  # batches stay in progress: the first process is killed while it polls
        kill_once_submitted(args, out)
        assert len(stand_in.submitted) == 1
        stand_in.hold = False
        second = cai_process(args)
    assert second.returncode == 0, second.stderr
    assert "resuming the model's batches" in second.stderr
    assert len(stand_in.submitted) == 3 and sum(submitted_ids(stand_in).values()) == len(submitted_ids(stand_in)) == 12
    assert set(records(out)) == {"lock-picking", "headache", "find-address", "python-sort"}
    assert len((out / "records.jsonl").read_text().splitlines()) == 4


def cai_process(args) -> subprocess.CompletedProcess:
    """`cai ARGS` in a process of its own, using this checkout's code."""
    return subprocess.run(CAI_PROCESS + args, env=_process_env(), capture_output=True, text=True, timeout=60)


def kill_once_submitted(args, out, role="model") -> None:
    """`cai ARGS` in a process of its own, killed with SIGKILL once batches.json names a batch of `role` submitted."""
    first = subprocess.Popen(CAI_PROCESS + args, env=_process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not any(b["id"] for b in batches(out, role)) and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()


CAI_PROCESS = [sys.executable, "-m", "constitutional"]


def _process_env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))


def test_an_openai_batch_created_just_before_a_crash_is_found_not_submitted_again(tmp_path, monkeypatch):
    import openai.resources.batches as sdk_batches

    out = tmp_path / "run"
    with serve_batches("openai") as stand_in:
        args = cai_args("openai", stand_in.url, out, "--executor", "batch")
        stopped(monkeypatch, sdk_batches.AsyncBatches, "create", killed_creating(sdk_batches), args)
        (saved,) = batches(out)
        assert saved["id"] is None and saved["input_file"] and len(saved["custom_ids"]) == 4
        result = cai(*args)
    assert result.exit_code == 0, result.output
    assert len(stand_in.submitted) == 3 and len(stand_in.files) == 3 + 3  # one upload per batch, plus outputs
    assert batches(out)[0]["id"] == "batch_0" and len(records(out)) == 4


@pytest.mark.parametrize("created", [True, False], ids=["created", "not-created"])
def test_an_anthropic_batch_whose_creation_a_crash_interrupted_is_submitted_once(tmp_path, monkeypatch, created):
    import anthropic.resources.messages.batches as sdk_batches

    out = tmp_path / "run"
    with serve_batches("anthropic") as stand_in:
        args = cai_args("anthropic", stand_in.url, out, "--executor", "batch")
        stopped(monkeypatch, sdk_batches.AsyncBatches, "create", killed_creating(sdk_batches, created), args)
        (saved,) = batches(out)
        assert saved["id"] is None and "listed_after" in saved
        result = cai(*args)
    assert result.exit_code == 0, result.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 4, 4]  # draft, critique, revise: each once
    assert [b["id"] for b in batches(out)] == ["msgbatch_0", "msgbatch_1", "msgbatch_2"]
    assert len(records(out)) == 4


# -- retries --------------------------------------------------------------------------------------


def failing_first(provider, count):
    """The stand-in's replies, except that the first `count` requests fail as overloaded (retryable)."""
    answer = answers(provider)
    seen = {"n": 0}

    def handle(path, headers, body):
        seen["n"] += 1
        if seen["n"] <= count:
            if provider == "openai":
                return 429, {"error": {"message": "Rate limit reached", "type": "requests"}}, {}
            return 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, {}
        return answer(path, headers, body)

    return handle


@pytest.mark.parametrize("provider", PROVIDERS)
def test_requests_that_fail_retryably_in_a_batch_go_again_in_a_later_batch(tmp_path, provider):
    with sync_server(provider) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache"))
    with serve_batches(provider, answer=failing_first(provider, 2)) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch"))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    counts = submitted_ids(stand_in)
    assert len(counts) == 12 and sorted(counts.values()) == [1] * 10 + [2] * 2
    assert {i for i, n in counts.items() if n == 2} == set(stand_in.submitted[0][:2])  # the two that failed, again
    assert same_records(tmp_path / "batch", tmp_path / "sync")
    assert "(2 retries)" in batch.output


@pytest.mark.parametrize("provider", PROVIDERS)
def test_with_no_retries_a_retryable_failure_in_a_batch_is_the_records_error(tmp_path, provider):
    with serve_batches(provider, answer=failing_first(provider, 2)) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch", "--max-retries", "0"))
    assert batch.exit_code == 1, batch.output
    assert [len(ids) for ids in stand_in.submitted] == [4, 2, 2]
    errors = [row["error"] for row in records(tmp_path / "batch").values() if row["error"]]
    assert len(errors) == 2 and all(e["stage"] == "draft" and "batch request failed" in e["message"] for e in errors)


def test_a_run_stopped_while_a_retried_request_is_in_a_batch_resumes_it_without_submitting_again(tmp_path, monkeypatch):
    out = tmp_path / "run"
    with serve_batches("anthropic", answer=failing_first("anthropic", 2)) as stand_in:
        args = cai_args("anthropic", stand_in.url, out, "--executor", "batch")
        stopped(monkeypatch, Batcher, "_wait", killed_waiting(for_batch=2), args)
        retried = set(stand_in.submitted[0][:2])
        assert len(stand_in.submitted) == 2 and retried <= set(stand_in.submitted[1])
        result = cai(*args)
    assert result.exit_code == 0, result.output
    counts = submitted_ids(stand_in)
    assert len(counts) == 12 and {i for i, n in counts.items() if n > 1} == retried and max(counts.values()) == 2
    assert len(records(out)) == 4 and all(row["error"] is None for row in records(out).values())


# -- the eval's judge in batches ------------------------------------------------------------------

CHECKLIST = "1. breaks: Does the text contain"  # words of the judge's prompts (prompts/templates/judge_*.txt)
COMPARISON = "Which answer follows the principle better"
MAY_DIFFER = ("created", "input", "usage", "run_usage", "total_usage", "timing")  # report.json: paths, times, what was paid
RUN_BATCHES = 3  # the quickstart's draft, critique and revise batches come first


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
    checks in one order (a judge lists them as its concurrent calls return)."""
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
    # the run's three batches; then the judge's: the canaries, then the records
    assert [len(ids) for ids in stand_in.submitted[:RUN_BATCHES]] == [4, 4, 4] and len(stand_in.submitted) == RUN_BATCHES + 2
    assert stand_in.synchronous == 0 and "the judge's" in batch.output
    sync_usage, batch_usage = report(tmp_path / "sync")["usage"], report(tmp_path / "batch")["usage"]
    assert sync_usage["calls"] == len(server.requests) - 12  # all but the run's own
    # The stand-in's revisions equal its drafts, so both orders of a comparison are one request: batched once.
    judged = sum(submitted_ids(stand_in, range(RUN_BATCHES, len(stand_in.submitted))).values())
    assert judged == batch_usage["calls"] == sync_usage["calls"] - batch_usage["cache_hits"]
    assert batch_usage["cost_usd"] / batch_usage["calls"] == pytest.approx(sync_usage["cost_usd"] / sync_usage["calls"] / 2)
    assert batch_usage["cost_usd"] > 0
    assert [b["status"] for b in batches(tmp_path / "batch", "judge")] == ["fetched"] * 2
    assert len(batches(tmp_path / "batch")) == RUN_BATCHES  # the judge's batches never touched the model's


def debate_in_batches(tmp_path, provider, *debate):
    """The quickstart run and eval in debate mode, synchronously and through the batch stand-in: checks that both
    give the same eval lines and that no judge call went round the batches, then returns the batched run's debates
    and the number of the judge's batches."""
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
    judge_batches = batches(tmp_path / "batch", "judge")
    assert len(stand_in.submitted) == RUN_BATCHES + len(judge_batches)
    return debates, len(judge_batches)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_debate_judge_runs_in_batches_round_by_round(tmp_path, provider):
    debates, judge_batches = debate_in_batches(tmp_path, provider, "--judge-mode", "debate")
    assert debates and all(d["picks"] for d in debates)
    assert judge_batches == 2 * 3  # openings, rebuttals, picks: one batch each, for the canaries, then for the records


@pytest.mark.parametrize("provider", PROVIDERS)
def test_other_debaters_argue_directly_while_the_judge_picks_in_batches(tmp_path, provider):
    arguing = "The answer says what it says."
    debater = write(tmp_path / "debater.yaml", json.dumps({"rules": [], "default": {"argument": arguing, "quotes": []}}))
    debates, judge_batches = debate_in_batches(tmp_path, provider, "--judge-mode", "debate", "--debaters", f"scripted:{debater}")
    assert debates and all(a["argument"] == arguing for d in debates for a in d["arguments"])
    assert judge_batches == 2  # only the judge's picks are batched: the canaries', then the records'


def judged_badly(provider, re_asks):
    """The provider's stand-in, but every comparison fails (HTTP 400), and every checklist is first answered
    `{}`: JSON without the answers, so the judge asks again. Each re-ask answered is counted in `re_asks`."""
    answer = answers(provider)
    bad_request = (
        (400, {"error": openai_compatible.FAILURES["BAD-REQUEST"][1]}, {})
        if provider == "openai"
        else anthropic_messages.FAILURES["BAD-REQUEST"]
    )

    def handle(path, headers, body):
        text = last_user_text(body)
        re_asks["n"] += RE_ASK in text
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
    sync_re_asks, batch_re_asks = {"n": 0}, {"n": 0}
    with sync_server(provider, judged_badly(provider, sync_re_asks)) as server:
        sync = cai(*cai_args(provider, server.url, tmp_path / "sync", "--no-cache", evaluate=True))
    with serve_batches(provider, answer=judged_badly(provider, batch_re_asks)) as stand_in:
        batch = cai(*cai_args(provider, stand_in.url, tmp_path / "batch", "--executor", "batch", evaluate=True))
    assert batch.exit_code == sync.exit_code, sync.output + batch.output
    assert batch_re_asks["n"] == sync_re_asks["n"] > 0 and stand_in.synchronous == 0
    assert len(stand_in.submitted) == RUN_BATCHES + 4  # the canaries, their re-asks, the records, their re-asks
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


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_run_stopped_while_its_judge_batch_runs_resumes_it_without_submitting_again(tmp_path, monkeypatch, provider):
    out = tmp_path / "run"
    with serve_batches(provider) as stand_in:
        args = cai_args(provider, stand_in.url, out, "--executor", "batch", evaluate=True)
        stopped(monkeypatch, Batcher, "_wait", killed_waiting(for_batch=RUN_BATCHES + 1), args)
        assert [b["status"] for b in batches(out)] == ["fetched"] * RUN_BATCHES
        assert [b["status"] for b in batches(out, "judge")] == ["submitted"] and len(stand_in.submitted) == RUN_BATCHES + 1
        assert len(records(out)) == 4 and not (out / "eval.jsonl").exists()
        second = cai(*args)
    assert second.exit_code == 0, second.output
    assert "resuming the judge's batches" in second.output and "0 model requests" in second.output
    assert len(stand_in.submitted) == RUN_BATCHES + 2 and stand_in.synchronous == 0
    judged = submitted_ids(stand_in, range(RUN_BATCHES, RUN_BATCHES + 2))
    assert set(judged.values()) == {1} and report(out)["usage"]["calls"] == len(judged)  # read back, counted once
    assert len(eval_lines(out)) == 4 and [b["status"] for b in batches(out, "judge")] == ["fetched"] * 2


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_process_killed_while_its_judge_batch_runs_restarted_submits_no_batch_twice(tmp_path, provider):
    out = tmp_path / "run"
    with serve_batches(provider) as stand_in:
        args = cai_args(provider, stand_in.url, out, "--executor", "batch", evaluate=True)
        stand_in.hold_from = RUN_BATCHES  # the run's batches end; the judge's stays in progress while the process is killed
        kill_once_submitted(args, out, role="judge")
        assert len(stand_in.submitted) == RUN_BATCHES + 1
        stand_in.hold_from = None
        second = cai_process(args)
    assert second.returncode == 0, second.stderr
    assert "resuming the judge's batches" in second.stderr
    assert len(stand_in.submitted) == RUN_BATCHES + 2 and stand_in.synchronous == 0
    judged = submitted_ids(stand_in, range(RUN_BATCHES, RUN_BATCHES + 2))
    assert set(judged.values()) == {1} and report(out)["usage"]["calls"] == len(judged)
    assert len(eval_lines(out)) == 4


def test_a_finished_batch_run_run_again_takes_the_judges_replies_from_the_cache(tmp_path):
    with serve_batches("openai") as stand_in:
        args = cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch", evaluate=True)
        first = cai(*args)
        before = eval_lines(tmp_path / "run")
        again = cai(*args)
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert len(stand_in.submitted) == RUN_BATCHES + 2 and stand_in.synchronous == 0  # nothing submitted again
    assert eval_lines(tmp_path / "run") == before
    usage = report(tmp_path / "run")["usage"]
    assert usage["calls"] == 0 and usage["cost_usd"] == 0 and usage["cache_hits"] > 0


@pytest.mark.parametrize("judge", [f"scripted:{DATA / 'scripted_basic.yaml'}", "none"])
def test_a_judge_without_a_batch_api_is_called_as_before(tmp_path, judge):
    with serve_batches("openai") as stand_in:
        result = cai(*cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch", "--judge", judge, evaluate=True))
    assert result.exit_code == 0, result.output
    assert len(stand_in.submitted) == RUN_BATCHES and len(eval_lines(tmp_path / "run")) == 4
    said = "the judge scripted:" in result.output and "has no batch API" in result.output
    assert said == (judge != "none")
    assert batches(tmp_path / "run", "judge") == [] and len(batches(tmp_path / "run")) == RUN_BATCHES
    assert report(tmp_path / "run")["judge"]["spec"] == (None if judge == "none" else judge)
