"""The fast scorer's cost, measured in one run: records/s of the signals (in process, start-up excluded) over each
frozen set with `--scorer fast` against `--scorer none`, and microseconds per scored sentence.

    python benchmarks/fast_scorer_speed.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from constitutional.constitution.loading import load_constitution
from constitutional.evals.items import EvalItem
from constitutional.evals.scorer import load_scorer
from constitutional.evals.signals import compute

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SETS = ("heldout/xstest_answers.jsonl", "heldout/veneer_revisions.jsonl", "heldout3/revisions.jsonl", "heldout4/revisions.jsonl")


def main() -> None:
    constitution = load_constitution("default").constitution
    fast = load_scorer("fast")
    print("| set | records | records/s, none | records/s, fast | µs per scored sentence |\n|---|---:|---:|---:|---:|")
    for name in SETS:
        rows = [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines() if line.strip()]
        items = [EvalItem(id=r["id"], prompt=r["prompt"], draft=r.get("draft"), revision=r["revision"]) for r in rows]
        seconds = {}
        for label, scorer in (("none", None), ("fast", fast)):
            started = time.perf_counter()
            signals = [compute(item, constitution, scorer) for item in items]
            seconds[label] = time.perf_counter() - started
        scored = sum(len(s.scored or []) for s in signals)
        per = (seconds["fast"] - seconds["none"]) / max(1, scored) * 1e6
        print(f"| {name} | {len(items)} | {len(items) / seconds['none']:.0f} | {len(items) / seconds['fast']:.0f} | {per:.0f} |")


if __name__ == "__main__":
    main()
