"""The local scorer's speed against the ceiling llama.cpp sets on this machine, measured in one run.

    python benchmarks/scorer_speed.py [N]

Ideal: llama.cpp decoding one 512-token batch with log-probabilities for every token (the scorer needs
them all), in tokens/s. Achieved: the scorer on N real answers (tests/data/calibration/xstest_dev.jsonl),
counting every token it decodes (each sentence after the request and after the neutral request, plus
both contexts). Prints the ratio, and the records/s this machine allows for 200-token answers: with
two passes of 200 tokens each, records/s ≤ ideal ÷ 400 whatever the code does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from constitutional.evals.scorer import NEUTRAL_REQUEST, load_scorer
from constitutional.text import sentences

DEV = Path(__file__).resolve().parent.parent / "tests" / "data" / "calibration" / "xstest_dev.jsonl"


def ideal(scorer) -> float:
    import llama_cpp

    llm = scorer._model()
    tokens = llm.tokenize(("The quick brown fox jumps over the lazy dog. " * 80).encode(), add_bos=False)[:512]
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    started = time.perf_counter()
    scorer._decode(tokens, 0, logits=True)
    return len(tokens) / (time.perf_counter() - started)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    scorer = load_scorer("local")
    rows = [json.loads(line) for line in DEV.read_text("utf-8").splitlines()][:n]
    ceiling = ideal(scorer)
    llm = scorer._model()
    count = lambda text: len(llm.tokenize(text.encode(), add_bos=False))  # noqa: E731
    decoded = 0
    started = time.perf_counter()
    for row in rows:
        parts = sentences(row["revision"])
        scorer.score(row["prompt"], parts)
        decoded += 2 * sum(count(s) + 1 for s in parts) + count(row["prompt"]) + count(NEUTRAL_REQUEST) + 20
    seconds = time.perf_counter() - started
    achieved = decoded / seconds
    print(f"ideal (llama.cpp, one 512-token batch with all log-probabilities): {ceiling:.0f} tokens/s")
    print(
        f"achieved (the scorer on {len(rows)} answers, both passes): {achieved:.0f} tokens/s, {len(rows) / seconds:.2f} records/s"
    )
    print(f"achieved / ideal: {achieved / ceiling:.2f}")
    print(f"ceiling for 200-token answers on this machine: {ceiling / 400:.2f} records/s")


if __name__ == "__main__":
    main()
