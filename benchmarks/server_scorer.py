"""Throughput of the server scorer (`--scorer openai/MODEL`): the eval's records/s against a completions server that
answers every request after a fixed latency, as a share of the ideal.

Runs `cai eval INPUT --judge none --scorer openai/bench --scorer-base-url URL --judge-concurrency C --no-cache` against
the stand-in (benchmarks/standin_openai.py, which answers /completions with echoed log-probabilities after L seconds),
and prints, measured in this one run:
  - records/s over the scoring window (from the stand-in's second request, the first after the probe, to its last
    reply: start-up left out) and over the whole command (start-up included);
  - requests per record (the canaries' and every tail probe included: all the server was asked but the probe);
  - the ideal, C ÷ L ÷ requests per record (records/s if C requests were in flight all the time), and the ratio of the
    window's records/s to it (target ≥ 0.9); and the most requests the stand-in had in flight at once.

Run: python benchmarks/server_scorer.py [--input tests/data/heldout4/revisions.jsonl] [--concurrency 32] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.resolve().parent
sys.path.insert(0, str(ROOT))

from benchmarks.throughput import start_standin  # noqa: E402

TARGET = 0.9


def stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=5) as reply:
        return json.loads(reply.read())


def run_eval(source: Path, base_url: str, concurrency: int, out: Path) -> float:
    """Seconds the whole `cai eval` took."""
    command = [sys.executable, "-m", "constitutional", "eval", str(source), "--judge", "none", "--scorer", "openai/bench"]
    command += ["--scorer-base-url", base_url, "--judge-concurrency", str(concurrency), "--no-cache", "--out", str(out), "-q"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONSTITUTIONAL_"))}
    environment["CONSTITUTIONAL_CACHE_DIR"] = str(out.parent / "cache")
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=900)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"cai eval exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=ROOT / "tests" / "data" / "heldout4" / "revisions.jsonl")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    records = sum(1 for line in args.input.read_text("utf-8").splitlines() if line.strip())
    load = os.getloadavg()[0]  # the machine is shared: what else was running shows here
    proc, base_url = start_standin(args.latency)
    try:
        with tempfile.TemporaryDirectory() as work:
            out = Path(work) / "eval"
            whole = run_eval(args.input, base_url, args.concurrency, out)
            served = stats(base_url)
            lines = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    finally:
        proc.terminate()
        proc.wait()
    assert len(lines) == records and all(line["signals"]["scorer"] == "openai/bench" for line in lines), "not all scored"
    window = served["last"] - served["arrivals"][1]  # from the first scoring request: the probe before it is start-up
    per_record = (served["requests"] - 1) / records
    ideal = args.concurrency / args.latency / per_record
    achieved = records / window
    print(
        f"input: {args.input.name}, {records} records; concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms; "
        f"load average before the run {load:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"requests: {served['requests']} ({per_record:.2f} per record, the probe left out); most in flight at once: "
        f"{served['most_in_flight']}"
    )
    print(f"records/s: {achieved:.1f} over the scoring window ({window:.2f} s); {records / whole:.1f} over the whole command")
    print(f"ideal (C / L / requests per record): {ideal:.1f} records/s")
    print(f"ratio to ideal: {achieved / ideal:.2f} (target >= {TARGET})")


if __name__ == "__main__":
    main()
