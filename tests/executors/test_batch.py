"""`cai run --executor batch` through the real openai and anthropic SDKs against stand-ins of their batch APIs."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from constitutional.models.base import Completion, ModelError, Usage
from constitutional.pipeline.executors.batch import _advance
from constitutional.pipeline.loop import LoopSettings, plan
from constitutional.pipeline.pricing import Price
from constitutional.pipeline.prompt_sets import PromptItem
from tests.helpers import ROOT, write
from tests.standins.anthropic_messages import messages_server
from tests.standins.batch_apis import serve_batches
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

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
    return ["run", str(QUICKSTART), "--model", f"{provider}/tiny", "--model-base-url", base, "--out", str(out),
            *([] if evaluate else ["--no-eval"]), "-q", *extra]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def records(out):
    return {row["id"]: row for row in map(json.loads, (out / "records.jsonl").read_text().splitlines())}


def without_cost(row):
    """A record with the usage fields a batch run may differ in: price, and which call wrote the prompt cache."""
    usage = {k: v for k, v in row["usage"].items() if k not in ("cost_usd", "cached_tokens", "cache_write_tokens")}
    return {**row, "usage": usage}


def sync_server(provider):
    return serve(chat_server(formats=("json_schema",)) if provider == "openai" else messages_server())


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


def test_batch_run_with_rounds_and_the_eval_leaves_the_same_run_directory(tmp_path):
    options = ["--rounds", "2", "--principles", "sample:1"]  # the judge is the model, called synchronously
    with sync_server("openai") as server:
        sync = cai(*cai_args("openai", server.url, tmp_path / "sync", "--no-cache", *options, evaluate=True))
    with serve_batches("openai") as stand_in:
        batch = cai(*cai_args("openai", stand_in.url, tmp_path / "batch", "--executor", "batch", *options, evaluate=True))
    assert sync.exit_code == 0 and batch.exit_code == 0, sync.output + batch.output
    assert len(stand_in.submitted) == 5  # draft, then critique and revise in each of two rounds
    assert {k: without_cost(v) for k, v in records(tmp_path / "batch").items()} == \
           {k: without_cost(v) for k, v in records(tmp_path / "sync").items()}
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
    from constitutional.pipeline.executors.batch_openai import OpenAIBatches

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
    assert record.usage["calls"] == 2 and record.usage["cost_usd"] == pytest.approx(15 / 1e6 / 2)


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


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_run_stopped_after_submitting_resumes_without_submitting_again(tmp_path, monkeypatch, provider):
    from constitutional.pipeline.executors.batch import Waves

    polls = {"n": 0}
    real_wait = Waves._wait

    async def wait_then_die(self, batch):
        polls["n"] += 1
        if polls["n"] == 2:  # the second wave's batch is submitted; the process dies while waiting for it
            raise Killed
        await real_wait(self, batch)

    monkeypatch.setattr(Waves, "_wait", wait_then_die)
    with serve_batches(provider) as stand_in:
        with pytest.raises(Killed):
            cai(*cai_args(provider, stand_in.url, tmp_path / "run", "--executor", "batch"))
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
    command = [sys.executable, "-m", "constitutional"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    with serve_batches(provider) as stand_in:
        stand_in.hold = True  # batches stay in progress: the first process is killed while it polls
        first = subprocess.Popen(command + cai_args(provider, stand_in.url, out, "--executor", "batch"), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not _submitted_ids(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert _submitted_ids(out) and len(stand_in.submitted) == 1
        stand_in.hold = False
        second = subprocess.run(command + cai_args(provider, stand_in.url, out, "--executor", "batch"), env=env,
                                capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "resuming the batches" in second.stderr
    submitted = [custom_id for batch in stand_in.submitted for custom_id in batch]
    assert len(stand_in.submitted) == 3 and len(submitted) == len(set(submitted)) == 12
    assert set(records(out)) == {"lock-picking", "headache", "find-address", "python-sort"}
    assert len((out / "records.jsonl").read_text().splitlines()) == 4


def _submitted_ids(out):
    try:
        log = json.loads((out / "batches.json").read_text())
    except (OSError, ValueError):
        return []
    return [b["id"] for w in log["waves"] for b in w["batches"] if b["id"]]  # an upload without a batch has no id yet


def test_a_resumed_job_whose_prompts_changed_is_refused(tmp_path, monkeypatch):
    from constitutional.pipeline.executors.batch import Waves

    prompts = write(tmp_path / "p.txt", "first question\nsecond question\n")

    async def die(self, batch):
        raise Killed

    with serve_batches("openai") as stand_in:
        args = cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch")
        args[1] = str(prompts)
        with monkeypatch.context() as patch:
            patch.setattr(Waves, "_wait", die)
            with pytest.raises(Killed):
                cai(*args)
        write(prompts, "first question\nsecond question edited\n")
        result = cai(*args)
    assert result.exit_code == 2 and "the prompts or the constitution changed" in result.output
    assert len(stand_in.submitted) == 1


def test_an_openai_batch_created_just_before_a_crash_is_found_not_submitted_again(tmp_path, monkeypatch):
    import openai.resources.batches as batches

    real_create = batches.AsyncBatches.create

    async def create_then_die(self, **kwargs):
        await real_create(self, **kwargs)
        raise Killed  # the provider has the batch; batches.json never heard of it

    with serve_batches("openai") as stand_in:
        with monkeypatch.context() as patch:
            patch.setattr(batches.AsyncBatches, "create", create_then_die)
            with pytest.raises(Killed):
                cai(*cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch"))
        log = json.loads((tmp_path / "run" / "batches.json").read_text())
        assert log["waves"][0]["batches"][0]["id"] is None and log["waves"][0]["batches"][0]["input_file"]
        result = cai(*cai_args("openai", stand_in.url, tmp_path / "run", "--executor", "batch"))
    assert result.exit_code == 0, result.output
    assert len(stand_in.submitted) == 3 and len(stand_in.files) == 3 + 3  # one upload per batch, plus outputs
    assert len(records(tmp_path / "run")) == 4
