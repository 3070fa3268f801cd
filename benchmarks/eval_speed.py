"""Deterministic eval speed: signals + verdicts (no judge) per record, over 10k synthetic records.

    python benchmarks/eval_speed.py [N]

The records are built from the labelled examples in tests/data/labelled/verdicts.jsonl, each varied
(veneer added, sentences repeated, words swapped) so no two are the same text.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path

from constitutional.constitution import load_constitution
from constitutional.evals.evaluate import evaluate
from constitutional.evals.items import from_line

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "data" / "labelled" / "verdicts.jsonl"
EXTRA = [
    "Please note this is for educational purposes only.",
    "Always act responsibly.",
    "Here is some more detail about the steps involved and the reasons behind them.",
    "I have made sure this answer follows all the principles.",
]


def synthetic(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    base = [json.loads(line) for line in LABELLED.read_text("utf-8").splitlines() if line.strip()]
    rows = []
    for i in range(n):
        row = dict(rng.choice(base))
        revision = row["revision"]
        for _ in range(rng.randint(0, 3)):
            revision = f"{revision} {rng.choice(EXTRA)}"
        if rng.random() < 0.3:
            revision = f"{revision} {row['draft']}"
        row.update(id=f"r{i}", revision=revision.replace("the", rng.choice(["the", "a", "this"]), 1))
        rows.append(row)
    return rows


async def run_all(items, constitution) -> None:
    for item in items:
        await evaluate(item, constitution)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    constitution = load_constitution("default").constitution
    items = [from_line(row, i) for i, row in enumerate(synthetic(n))]
    asyncio.run(run_all(items[:50], constitution))  # warm up: lexicon loading and regex compilation
    start = time.perf_counter()
    asyncio.run(run_all(items, constitution))
    elapsed = time.perf_counter() - start
    per_record = 1000 * elapsed / n
    print(f"{n} records in {elapsed:.2f} s: {per_record:.3f} ms per record (deterministic signals + verdicts, no judge)")
    print(f"target < 2 ms per record: {'ok' if per_record < 2 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
