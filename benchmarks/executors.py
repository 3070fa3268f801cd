"""The executors against the in-process runner, on the same job.

Prints, each measured in this one run:
  - calls/s of `--executor ray` on a local two-CPU Ray instance ÷ calls/s of the in-process runner,
    on the bundled local model (CPU-bound: the in-process runner calls it one at a time; each Ray
    worker loads its own copy, so two prompts run at once);
  - the batch executor's cost ÷ the in-process runner's, for the run (from the records' cost_usd), for
    the eval's judge (report.json's usage) and for both, through the real openai and anthropic SDKs
    against local stand-ins of the chat and batch APIs, with a price table giving the model a list
    price (the batch APIs charge half).

Run: python benchmarks/executors.py [--prompts N] [--max-tokens T]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from constitutional.calls.batch import attach_batcher  # noqa: E402
from constitutional.calls.factory import Calls, call_settings  # noqa: E402
from constitutional.constitution import load_constitution  # noqa: E402
from constitutional.evals import read_input, run_eval  # noqa: E402
from constitutional.pipeline.executors import Job, check_executor  # noqa: E402
from constitutional.pipeline.loop import LoopSettings  # noqa: E402
from constitutional.pipeline.runner import RunConfig, open_run_dir, run_job, scan_prompts  # noqa: E402

CONSTITUTION = ROOT / "examples" / "constitutions" / "short.yaml"
QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"


def config_for(prompts: Path, out: Path, spec: str, max_tokens: int, concurrency: int = 1) -> RunConfig:
    settings = LoopSettings(max_tokens={"draft": max_tokens, "critique": max(96, max_tokens), "revise": max_tokens})
    return RunConfig(
        prompts=prompts,
        out=out,
        constitution=load_constitution(str(CONSTITUTION)),
        model_spec=spec,
        judge_spec=None,
        settings=settings,
        concurrency=concurrency,
        calls=call_settings(cache=False),
    )


def in_process(config: RunConfig, **options) -> tuple[float, float, int]:
    """(calls/s, cost in USD, calls) of the in-process runner."""
    scan = scan_prompts(config)
    state = open_run_dir(config, scan, force=False)
    model = Calls(config.calls.but(**options)).model(config.model_spec)
    start = time.perf_counter()
    with state.lock:
        result = asyncio.run(run_job(config, model, scan, state))
    return result.usage.calls / (time.perf_counter() - start), result.usage.cost_usd, result.usage.calls


def elsewhere(executor: str, config: RunConfig, **options) -> tuple[float, float, int]:
    scan = scan_prompts(config)
    state = open_run_dir(config, scan, force=False)
    start = time.perf_counter()
    chosen = check_executor(executor, config.model_spec)
    calls = Calls(config.calls.but(**options))  # the batch executor runs on its model; Ray's workers make their own
    with state.lock:
        result = chosen.run(Job(config, scan, state, calls.model(config.model_spec), calls))
    return result.usage.calls / (time.perf_counter() - start), result.usage.cost_usd, result.usage.calls


def judge_cost(config: RunConfig, batched: bool, **options) -> tuple[float, int]:
    """(cost in USD, calls) of the eval's judge (the run's model) over the run's records."""
    judge = Calls(config.calls.but(**options)).model(config.model_spec)
    if batched:
        attach_batcher(judge, config.out / "batches.json", "judge", lambda line: None)
    result = asyncio.run(run_eval(read_input(config.out), config.constitution, judge, config.out))
    return result.report.usage.cost_usd, result.report.usage.calls


def ray_ratio(work: Path, n: int, max_tokens: int) -> None:
    import ray

    prompts = work / "prompts.txt"
    prompts.write_text("".join(f"Give one practical tip about topic number {i}.\n" for i in range(n)))
    local_rate, _, local_calls = in_process(config_for(prompts, work / "in-process", "local", max_tokens))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        elsewhere("ray", config_for(prompts, work / "warm-up", "local", max_tokens))  # workers started once
        ray_rate, _, ray_calls = elsewhere("ray", config_for(prompts, work / "ray", "local", max_tokens))
    finally:
        ray.shutdown()
    print(f"local model, {n} prompts, max {max_tokens} tokens a reply:")
    print(f"  in-process runner: {local_rate:.2f} calls/s ({local_calls} calls)")
    print(f"  ray, two workers:  {ray_rate:.2f} calls/s ({ray_calls} calls)")
    print(f"  ratio ray ÷ in-process: {ray_rate / local_rate:.2f}")


def batch_cost_ratio(work: Path) -> None:
    from tests.standins.anthropic_messages import messages_server
    from tests.standins.batch_apis import serve_batches
    from tests.standins.openai_compatible import chat_server
    from tests.standins.server import serve

    prices = work / "prices.yaml"
    prices.write_text("bench: {input: 2.50, output: 10.00, cached_input: 1.25}\n")
    os.environ["CONSTITUTIONAL_PRICES"] = str(prices)
    os.environ["CONSTITUTIONAL_BATCH_POLL_SECONDS"] = "0.01"
    for provider, sync_api in (("openai", chat_server(formats=("json_schema",))), ("anthropic", messages_server())):
        suffix = "/v1" if provider == "openai" else ""
        spec = f"{provider}/bench"
        sync_config = config_for(QUICKSTART, work / f"{provider}-sync", spec, 256, 8)
        batch_config = config_for(QUICKSTART, work / f"{provider}-batch", spec, 256)
        with serve(sync_api) as server:
            _, sync_cost, sync_calls = in_process(sync_config, base_url=server.url + suffix)
            sync_judge, sync_judge_calls = judge_cost(sync_config, False, base_url=server.url + suffix)
        with serve_batches(provider) as stand_in:
            _, batch_cost, batch_calls = elsewhere("batch", batch_config, base_url=stand_in.url + suffix)
            batch_judge, batch_judge_calls = judge_cost(batch_config, True, base_url=stand_in.url + suffix)
        print(f"{provider}, cost ratio batch ÷ in-process:")
        print(
            f"  run:   in-process ${sync_cost:.6f} ({sync_calls} calls), batch ${batch_cost:.6f} ({batch_calls} calls): "
            f"{batch_cost / sync_cost:.2f}"
        )
        print(
            f"  judge: in-process ${sync_judge:.6f} ({sync_judge_calls} calls), batch ${batch_judge:.6f} "
            f"({batch_judge_calls} calls; identical requests in flight share one entry): {batch_judge / sync_judge:.2f}, "
            f"a call {(batch_judge / batch_judge_calls) / (sync_judge / sync_judge_calls):.2f}"
        )
        print(f"  both: {(batch_cost + batch_judge) / (sync_cost + sync_judge):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CONSTITUTIONAL_CACHE_DIR"] = str(Path(tmp) / "cache")
        batch_cost_ratio(Path(tmp))
        ray_ratio(Path(tmp), args.prompts, args.max_tokens)


if __name__ == "__main__":
    main()
