"""The model scorer's throughput against the ceiling llama.cpp sets on this machine, measured in one run.

    python benchmarks/scorer_efficiency.py [RECORDS] [ROUNDS] [THREADS]

- ceiling: llama.cpp itself decoding 512 tokens of text in one `llama_decode` call, with the logits of every token
  (the scorer needs them all), in the scorer's own context (same threads, same KV cache).
- one by one: the scorer (`ModelScorer`, no cache, its default plan: one sentence per decode call) on RECORDS real
  answers of about 200 tokens or more (tests/data/heldout4/revisions.jsonl, only their text: no label is read), each
  sentence after the request, after the neutral request and (where the record has one) after the draft, as `cai eval`
  scores them.
- batched: the same with the batched plan (many sentences per decode call; the same scores, bit for bit).

Tokens/s count the text read: each pass's context and every token of every sentence scored after it. The three are
measured in turns, ROUNDS times, so that other work on the machine weighs on each alike, and each rate is the best
round. Rates are given per second of wall-clock time and per second of this process's CPU time; on a machine shared
with other work (the load average is printed) only the second is a fair comparison, and with THREADS 1 (no thread
waits on another) it is the cleanest. Prints each rate, each plan ÷ ceiling (the target is 0.9 or more) and
batched ÷ one by one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from constitutional.evals.decoding import CHUNK, Decoder
from constitutional.evals.scorer import SENTENCE_TOKENS, ModelScorer
from constitutional.models.local import bundled_model_path
from constitutional.text import sentences

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "tests" / "data" / "heldout4" / "revisions.jsonl"
MIN_WORDS = 150  # about 200 tokens


class Counting:
    """An engine that counts the tokens it is asked to read (each context, and every sentence token after it)."""

    def __init__(self, engine: Decoder):
        self.engine = engine
        self.tokens = 0

    def logprobs(self, context: list[int], scored: list[list[int]]) -> list[float]:
        self.tokens += len(context) + sum(len(t) for t in scored)
        return self.engine.logprobs(context, scored)

    def close(self) -> None:
        self.engine.close()


def ceiling(decoder: Decoder, text: list[int]) -> int:
    """One 512-token decode with every token's logits; the tokens decoded."""
    import llama_cpp

    state = decoder._context()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(state.ctx), True)
    batch = state.batch
    batch.n_tokens = len(text)
    for i, token in enumerate(text):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = True
    if llama_cpp.llama_decode(state.ctx, batch) != 0:
        raise RuntimeError("llama.cpp could not decode")
    return len(text)


def scoring(path: Path, decoder: Decoder, rows: list[dict]) -> int:
    """The tokens read scoring the rows with a fresh scorer (no cache, nothing memoised) on `decoder`."""
    scorer = ModelScorer(path)
    engine = Counting(decoder)
    scorer.engine, scorer.tokenizer = engine, decoder
    for row in rows:
        scorer.score(row["prompt"], sentences(row["revision"]), row.get("draft"))
    return engine.tokens


def timed(measure) -> tuple[float, float]:
    """(tokens per wall-clock second, tokens per CPU second) of one measurement."""
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = measure()
    return tokens / (time.perf_counter() - wall), tokens / (time.process_time() - cpu)


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else None
    rows = [json.loads(line) for line in ANSWERS.read_text("utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if len(r["revision"].split()) >= MIN_WORDS][:records]
    path = bundled_model_path()
    one, batched = Decoder(path, threads), Decoder(path, threads, batched=True)
    text = one.tokenize("The quick brown fox jumps over the lazy dog while the cat sleeps in the sun. " * 60)[:CHUNK]
    assert max(len(one.tokenize(s)) for r in rows for s in sentences(r["revision"])) < SENTENCE_TOKENS
    ceiling(one, text)  # warm up: the model's pages, the graph
    measures = {
        "ceiling": lambda: ceiling(one, text),
        "one by one": lambda: scoring(path, one, rows),
        "batched": lambda: scoring(path, batched, rows),
    }
    best = {name: (0.0, 0.0) for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            wall, cpu = timed(measure)
            best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
    words = sum(len(r["revision"].split()) for r in rows)
    print(f"{len(rows)} answers ({words} words), best of {rounds} rounds, threads {threads or 'default'}, load average")
    print(f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; tokens/s (wall clock, CPU time):")
    for name, (wall, cpu) in best.items():
        print(f"  {name:10} {wall:6.0f} {cpu:6.0f}")
    for name in ("one by one", "batched"):
        print(f"{name} / ceiling: {best[name][0] / best['ceiling'][0]:.2f}, {best[name][1] / best['ceiling'][1]:.2f}")
    gain = [best["batched"][i] / best["one by one"][i] for i in (0, 1)]
    print(f"batched / one by one: {gain[0]:.2f}, {gain[1]:.2f}")


if __name__ == "__main__":
    main()
