"""`cai run --executor ray` and `cai eval --executor ray` on a local Ray instance with two CPUs."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.evals.scripted import scripted_judge
from tests.evals.test_canaries import strict_rules
from tests.helpers import DATA, ROOT, write

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def rows(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_ray_run_writes_the_same_records_as_the_in_process_runner(tmp_path, scripted_spec, short_constitution):
    common = ["-c", short_constitution, "--model", scripted_spec, "--no-cache", "--no-eval", "-q"]
    local = cai("run", QUICKSTART, *common, "--out", tmp_path / "local")
    sharded = cai("run", QUICKSTART, *common, "--out", tmp_path / "ray", "--executor", "ray")
    assert local.exit_code == 0 and sharded.exit_code == 0, local.output + sharded.output
    assert "2 shard(s)" in sharded.output and "12 model requests" in sharded.output
    by_id = lambda out: {r["id"]: r for r in rows(out)}  # noqa: E731
    assert by_id(tmp_path / "ray") == by_id(tmp_path / "local") and len(rows(tmp_path / "ray")) == 4
    assert {p.name for p in (tmp_path / "ray").iterdir()} == {p.name for p in (tmp_path / "local").iterdir()}
    manifest = json.loads((tmp_path / "ray" / "run.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["records"] == 4 and manifest["usage"]["calls"] == 12


def test_ray_run_resumes_and_writes_every_record_once(tmp_path, scripted_spec):
    prompts = write(tmp_path / "p.txt", "".join(f"question number {n}\n" for n in range(7)))
    out = tmp_path / "run"
    first = cai("run", prompts, "--model", scripted_spec, "--limit", "3", "--out", out, "--no-eval", "-q")
    assert first.exit_code == 0, first.output
    second = cai("run", prompts, "--model", scripted_spec, "--out", out, "--no-eval", "-q", "--executor", "ray", "--rpm", "6000")
    assert second.exit_code == 0, second.output
    assert "4 prompts in 2 shard(s)" in second.output
    ids = [r["id"] for r in rows(out)]
    assert len(ids) == len(set(ids)) == 7


def test_each_worker_gets_the_drivers_call_settings_and_its_share_of_the_rate_limits(tmp_path, scripted_spec):
    from constitutional.calls.factory import call_settings
    from constitutional.constitution import load_constitution
    from constitutional.pipeline.executors.ray_executor import worker_calls
    from constitutional.pipeline.loop import LoopSettings
    from constitutional.pipeline.runner import RunConfig

    settings = call_settings(rpm=600, tpm=90_000, cache=False, max_retries=2, reasks=3, timeout=9.0)
    config = RunConfig(
        prompts=QUICKSTART,
        out=tmp_path,
        constitution=load_constitution("default"),
        model_spec=scripted_spec,
        judge_spec=None,
        settings=LoopSettings(),
        concurrency=4,
        calls=settings,
    )
    calls = worker_calls(config, 3)
    model = calls.model(scripted_spec, strict=False)  # the scripted model takes no timeout
    limiter = model.limiter
    assert limiter.requests.rate == pytest.approx(600 / 3 / 60) and limiter.tokens.rate == pytest.approx(90_000 / 3 / 60)
    # The driver's --max-retries, --reasks, --timeout and cache folder reach every worker, resolved by the driver.
    assert model.retry.reasks == 3 and model.retry.max_retries == 2
    assert calls.settings.timeout == 9.0 and calls.settings.cache_dir is not None


def eval_files(out):
    """eval.jsonl's lines, and report.json without what says when it was made (`created`, `timing`)."""
    report = json.loads((out / "report.json").read_text())
    return (out / "eval.jsonl").read_text().splitlines(), {k: v for k, v in report.items() if k not in ("created", "timing")}


@pytest.mark.parametrize("mode", ["checklist", "debate"])
def test_ray_eval_writes_the_lines_and_report_of_the_in_process_eval(tmp_path, mode):
    source = write(tmp_path / "in.jsonl", "".join((DATA / "labelled" / "verdicts.jsonl").read_text().splitlines(True)[::6]))
    judge = scripted_judge(tmp_path, strict_rules()).spec
    common = ["--judge", judge, "--judge-mode", mode, "--scorer", "fast", "--no-cache", "-q"]
    local = cai("eval", source, *common, "--out", tmp_path / "local")
    sharded = cai("eval", source, *common, "--out", tmp_path / "ray", "--executor", "ray")
    assert local.exit_code == 0 and sharded.exit_code == 0, local.output + sharded.output
    assert "ray: 8 records in 2 shard(s)" in sharded.output
    lines, report = eval_files(tmp_path / "local")
    assert [json.loads(line)["id"] for line in lines][:3] == ["sup-lock-1", "sup-stock-1", "gen-lock-1"]
    assert report["judge"]["trusted"] is False  # from the canaries, run once, in the driver
    if mode == "checklist":  # every shard judged with that trust, as one process does
        assert sum("the judge is not trusted" in line for line in lines) >= 2
    else:  # no rule answers a debate: the workers' failed calls are added to the canaries' in the report
        assert report["judge"]["failed_calls"] > 10
    assert eval_files(tmp_path / "ray") == (lines, report)


def test_a_ray_run_evaluates_on_ray_with_the_in_process_lines(tmp_path, scripted_spec, short_constitution):
    judge = scripted_judge(tmp_path, strict_rules()).spec
    common = ["-c", short_constitution, "--model", scripted_spec, "--judge", judge, "--scorer", "fast", "--no-cache", "-q"]
    local = cai("run", QUICKSTART, *common, "--out", tmp_path / "local")
    sharded = cai("run", QUICKSTART, *common, "--out", tmp_path / "ray", "--executor", "ray")
    assert local.exit_code == 0 and sharded.exit_code == 0, local.output + sharded.output
    assert "4 prompts in 2 shard(s)" in sharded.output and "ray: 4 records in 2 shard(s)" in sharded.output
    by_id = lambda out: {json.loads(line)["id"]: line for line in eval_files(out)[0]}  # noqa: E731
    assert by_id(tmp_path / "ray") == by_id(tmp_path / "local") and len(by_id(tmp_path / "ray")) == 4
    assert list(by_id(tmp_path / "ray")) == [r["id"] for r in rows(tmp_path / "ray")]  # records.jsonl's order


def test_the_eval_hands_lines_on_in_the_inputs_order_once_each():
    from constitutional.evals.ray_stage import InOrder

    kept = []
    order = InOrder(kept.append)
    for place in (1, 3, 0, 1, 2, 0, 5, 4, 3):  # as two shards' lines might come, with a retried task's again
        order.add(place, f"line {place}")
        assert kept == [f"line {n}" for n in range(len(kept))]
    assert kept == [f"line {n}" for n in range(6)] and not order.waiting


def test_ray_eval_with_a_server_scorer_writes_the_in_process_lines(tmp_path):
    """Each Ray worker starts its own scorer process (evals/scorer_process.py) on the same completions server."""
    from tests.standins.completions import Faults
    from tests.standins.server import serve

    source = write(tmp_path / "in.jsonl", "".join((DATA / "labelled" / "verdicts.jsonl").read_text().splitlines(True)[::6]))
    with serve(Faults()) as standin:
        common = ["--judge", "none", "--scorer", "openai/standin", "--scorer-base-url", standin.url, "--no-cache", "-q"]
        local = cai("eval", source, *common, "--out", tmp_path / "local")
        sharded = cai("eval", source, *common, "--out", tmp_path / "ray", "--executor", "ray")
    assert local.exit_code == 0 and sharded.exit_code == 0, local.output + sharded.output
    assert "ray: 8 records in 2 shard(s)" in sharded.output
    lines, report = eval_files(tmp_path / "local")
    assert all(json.loads(line)["signals"]["scorer"] == "openai/standin" for line in lines)  # none fell back
    assert eval_files(tmp_path / "ray") == (lines, report)
