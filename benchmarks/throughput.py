"""Throughput, memory and a LangChain comparison for the batch runner.

Prints, each measured in this one run:
  - achieved model calls/s ÷ ideal min(C/L, what --rpm allows: rpm/60 plus the limiter's one-second
    burst spread over the run), through the real `openai` provider against a local stand-in server
    with latency L (targets: ≥ 0.9 at C=64, L=100 ms, and at C=256);
  - peak RSS of a 100k-prompt job (target < 300 MB);
  - our calls/s ÷ LangChain ConstitutionalChain's (abatch, same concurrency, server, prompts, one
    principle) and model calls per prompt for both (needs langchain-classic and langchain-openai).

Run: python benchmarks/throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.resolve().parent))

from benchmarks.peak_rss import cai_peak_rss_mb  # noqa: E402

ONE_PRINCIPLE = """name: bench
principles:
  - id: specific
    name: Be specific
    critique_request: Quote any vague part of the response.
    revision_request: Replace the vague parts with specific facts.
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_standin(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "standin_openai.py"), str(port), str(latency)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}/v1"


def write_prompts(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"p{i}", "prompt": f"Tell me about topic number {i}."}) + "\n")
    return path


def ours(base_url: str, prompts: Path, constitution: Path, concurrency: int, rpm: float | None, work: Path) -> tuple[float, int]:
    from constitutional.calls.factory import Calls, call_settings
    from constitutional.constitution import load_constitution
    from constitutional.pipeline.loop import LoopSettings
    from constitutional.pipeline.runner import RunConfig, run_job, scan_prompts

    settings = call_settings(cache=False, rpm=rpm, base_url=base_url)
    model = Calls(settings).model("openai/bench")
    config = RunConfig(
        prompts=prompts,
        out=work,
        constitution=load_constitution(str(constitution)),
        model_spec="openai/bench",
        judge_spec=None,
        settings=LoopSettings(),
        concurrency=concurrency,
        calls=settings,
    )
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    asyncio.run(run_job(config, model, scan_prompts(config)))
    return model.stats.attempts / (time.perf_counter() - start), model.stats.attempts


def bare_sdk(base_url: str, concurrency: int, calls: int) -> float:
    """Calls/s of the openai SDK alone at this concurrency (its `chat.completions.create`, nothing else). The
    provider posts with aiohttp instead, as the SDK's request machinery is the limit here; this shows by how much."""
    import openai

    async def go() -> float:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
        messages = [
            {"role": "system", "content": "You are a careful critic. " * 8},
            {"role": "user", "content": "Check the response below against the principles. " * 20},
        ]

        async def worker(n: int) -> None:
            for _ in range(n):
                await client.chat.completions.create(model="bench", messages=messages, max_tokens=256)

        start = time.perf_counter()
        await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
        rate = (calls // concurrency) * concurrency / (time.perf_counter() - start)
        await client.close()
        return rate

    return asyncio.run(go())


def langchain(base_url: str, prompts: list[str], concurrency: int) -> tuple[float, int] | None:
    try:
        from langchain_classic.chains import ConstitutionalChain, LLMChain
        from langchain_classic.chains.constitutional_ai.models import ConstitutionalPrinciple
        from langchain_core.prompts import PromptTemplate
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        print(f"  (LangChain comparison skipped: {exc.name} is not installed)")
        return None
    llm = ChatOpenAI(model="bench", base_url=base_url, api_key="none", max_retries=0)
    principle = ConstitutionalPrinciple(
        name="specific",
        critique_request="Quote any vague part of the response.",
        revision_request="Replace the vague parts with specific facts.",
    )
    chain = ConstitutionalChain.from_llm(
        llm=llm, chain=LLMChain(llm=llm, prompt=PromptTemplate.from_template("{q}")), constitutional_principles=[principle]
    )
    before = served(base_url)
    start = time.perf_counter()
    asyncio.run(chain.abatch([{"q": p} for p in prompts], config={"max_concurrency": concurrency}))
    elapsed = time.perf_counter() - start
    calls = served(base_url) - before
    return calls / elapsed, calls


def served(base_url: str) -> int:
    """Completions the stand-in has answered so far (counted by the server, so any client is counted)."""
    import urllib.request

    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats") as reply:
        return json.load(reply)["requests"]


def peak_rss_mb(n: int, work: Path) -> float:
    prompts = write_prompts(work / "big.jsonl", n)
    replies = work / "replies.yaml"
    replies.write_text(
        'rules:\n  - when: "Check the RESPONSE"\n    reply: {"needs_revision": false, "violations": []}\n'
        'default: "A short answer."\n'
    )
    peak = cai_peak_rss_mb(
        "run",
        str(prompts),
        "-m",
        f"scripted:{replies}",
        "-o",
        str(work / "big-run"),
        "--no-eval",
        "--no-cache",
        "--concurrency",
        "64",
        "-q",
    )
    lines = sum(1 for _ in (work / "big-run" / "records.jsonl").open())
    assert lines == n, f"expected {n} records, found {lines}"
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller jobs (for a smoke run)")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        constitution = work / "one.yaml"
        constitution.write_text(ONE_PRINCIPLE)
        latency = 0.1
        server, base_url = start_standin(latency)
        try:
            print(f"throughput (openai provider → local stand-in, L = {latency * 1000:.0f} ms, 3 calls per prompt)")
            # Jobs long enough (over 10 s at the ideal rate) that the ramp-up and the last prompts' tail are small.
            for concurrency, rpm, n in [(64, None, int(2560 * scale)), (256, 30_000, int(3000 * scale))]:
                prompts = write_prompts(work / f"p{concurrency}.jsonl", n)
                rate, calls = ours(base_url, prompts, constitution, concurrency, rpm, work / f"run{concurrency}")
                # The limiter lets one second's quota go at once, then paces to rpm/60: over T seconds it
                # allows rpm/60 * (T + 1) calls, the most any runner under that limit may make.
                seconds = calls / rate
                ideal = min(concurrency / latency, rpm / 60 * (seconds + 1) / seconds if rpm else float("inf"))
                ceiling = bare_sdk(base_url, concurrency, calls)
                print(
                    f"  C={concurrency:<4} rpm={rpm or '-':<6} calls={calls:<6} {rate:7.1f} calls/s  "
                    f"ideal {ideal:7.1f}  achieved ÷ ideal {rate / ideal:.2f} (target ≥ 0.90)  |  "
                    f"the openai SDK alone {ceiling:7.1f} calls/s, ours ÷ SDK {rate / min(ceiling, ideal):.2f}"
                )
            print("LangChain ConstitutionalChain (abatch, same server, prompts and concurrency, one principle)")
            n = int(640 * scale)
            texts = [f"Tell me about topic number {i}." for i in range(n)]
            prompts = write_prompts(work / "cmp.jsonl", n)
            our_rate, our_calls = ours(base_url, prompts, constitution, 64, None, work / "cmp")
            theirs = langchain(base_url, texts, 64)
            if theirs:
                their_rate, their_calls = theirs
                print(
                    f"  ours {our_rate:.1f} calls/s, {our_calls / n:.2f} calls/prompt; "
                    f"theirs {their_rate:.1f} calls/s, {their_calls / n:.2f} calls/prompt; "
                    f"ratio ours ÷ theirs {our_rate / their_rate:.2f}"
                )
        finally:
            server.terminate()
        n = int(100_000 * scale)
        print(f"memory: peak RSS of a {n}-prompt job (scripted model, streamed): {peak_rss_mb(n, work):.0f} MB (target < 300)")


if __name__ == "__main__":
    main()
