"""The model scorer's throughput against the ceiling llama.cpp sets on this machine, measured in one run.

    python benchmarks/scorer_efficiency.py [RECORDS] [ROUNDS]

- ceiling: llama.cpp itself decoding 512 tokens of text in one `llama_decode` call, with the logits of every token
  (the scorer needs them all), in the scorer's own context (same threads, same KV cache), repeated.
- batched: the scorer (`ModelScorer`, no cache) on RECORDS real answers of about 200 tokens or more
  (tests/data/heldout4/revisions.jsonl, only their text: no label is read), each sentence after the request, after the
  neutral request and (where the record has one) after the draft, as `cai eval` scores them.
- one at a time: the same, decoding one sentence per `llama_decode` call as the scorer did before it batched
  (a copy of that loop, below).

Tokens/s count the text read: each pass's context and every token of every sentence scored after it. The three are
measured in turns, ROUNDS times, so that other work on the machine weighs on each alike; each number is the median
round. Prints each rate, batched ÷ ceiling (the target is 0.9 or more) and batched ÷ one at a time.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from constitutional.evals.decoding import CHUNK, Decoder
from constitutional.evals.scorer import SENTENCE_TOKENS, ModelScorer
from constitutional.models.local import bundled_model_path
from constitutional.text import sentences

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "tests" / "data" / "heldout4" / "revisions.jsonl"
MIN_WORDS = 150  # about 200 tokens


class Counting:
    """An engine that counts the tokens it is asked to read (each context, and every sentence token after it)."""

    def __init__(self, engine):
        self.engine = engine
        self.tokens = 0

    def logprobs(self, context, scored):
        self.tokens += len(context) + sum(len(t) for t in scored)
        return self.engine.logprobs(context, scored)

    def close(self):
        self.engine.close()


class OneAtATime:
    """The scorer's decoding before batching: the context once as sequence 0, then each sentence (after the context's
    last token) in its own decode calls, removed from the cache before the next."""

    def __init__(self, decoder: Decoder):
        self.decoder = decoder

    def logprobs(self, context, scored):
        import llama_cpp

        state = self.decoder._context()
        memory = llama_cpp.llama_get_memory(state.ctx)
        llama_cpp.llama_memory_clear(memory, True)
        self._decode(state, context[:-1], 0, logits=False)
        start = len(context) - 1
        totals = []
        for tokens in scored:
            sequence = [context[-1], *tokens]
            total = 0.0
            for offset in range(0, len(sequence) - 1, CHUNK):
                piece = sequence[offset : offset + CHUNK]
                rows = self._decode(state, piece, start + offset, logits=True)
                targets = sequence[offset + 1 : offset + 1 + len(piece)]
                rows = rows[: len(targets)]
                peak = rows.max(axis=1, keepdims=True)
                norm = np.log(np.exp(rows - peak).sum(axis=1)) + peak[:, 0]
                total += float((rows[np.arange(len(targets)), targets] - norm).sum())
            totals.append(total)
            llama_cpp.llama_memory_seq_rm(memory, 0, start, -1)
        return totals

    def _decode(self, state, tokens, start, logits):
        import llama_cpp

        batch = state.batch
        for begin in range(0, len(tokens), CHUNK):
            piece = tokens[begin : begin + CHUNK]
            batch.n_tokens = len(piece)
            for i, token in enumerate(piece):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, start + begin + i, 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = logits
            if llama_cpp.llama_decode(state.ctx, batch) != 0:
                raise RuntimeError("llama.cpp could not decode")
        if not logits:
            return None
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits(state.ctx), shape=(len(tokens), state.n_vocab)).copy()

    def close(self):
        pass


def ceiling(decoder: Decoder, text: list[int]) -> tuple[int, float]:
    """(tokens, seconds) of one 512-token decode with every token's logits."""
    import llama_cpp

    state = decoder._context()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(state.ctx), True)
    batch = state.batch
    batch.n_tokens = len(text)
    for i, token in enumerate(text):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = True
    started = time.perf_counter()
    if llama_cpp.llama_decode(state.ctx, batch) != 0:
        raise RuntimeError("llama.cpp could not decode")
    return len(text), time.perf_counter() - started


def scoring(path: Path, decoder: Decoder, rows: list[dict], one_at_a_time: bool) -> tuple[int, float]:
    """(tokens read, seconds) of scoring the rows with a fresh scorer (no cache, nothing memoised) on `decoder`."""
    scorer = ModelScorer(path)
    engine = Counting(OneAtATime(decoder) if one_at_a_time else decoder)
    scorer.engine, scorer.tokenizer = engine, decoder
    started = time.perf_counter()
    for row in rows:
        scorer.score(row["prompt"], sentences(row["revision"]), row.get("draft"))
    return engine.tokens, time.perf_counter() - started


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = [json.loads(line) for line in ANSWERS.read_text("utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if len(r["revision"].split()) >= MIN_WORDS][:records]
    path = bundled_model_path()
    decoder = Decoder(path)
    text = decoder.tokenize("The quick brown fox jumps over the lazy dog while the cat sleeps in the sun. " * 60)[:CHUNK]
    assert max(len(decoder.tokenize(s)) for r in rows for s in sentences(r["revision"])) < SENTENCE_TOKENS
    ceiling(decoder, text)  # warm up: the model's pages, the graph
    rates: dict[str, list[float]] = {"ceiling": [], "batched": [], "one at a time": []}
    for _ in range(rounds):
        for name, measure in (
            ("ceiling", lambda: ceiling(decoder, text)),
            ("batched", lambda: scoring(path, decoder, rows, one_at_a_time=False)),
            ("one at a time", lambda: scoring(path, decoder, rows, one_at_a_time=True)),
        ):
            tokens, seconds = measure()
            rates[name].append(tokens / seconds)
    rate = {name: statistics.median(values) for name, values in rates.items()}
    words = sum(len(r["revision"].split()) for r in rows)
    print(f"{len(rows)} answers ({words} words), {rounds} rounds; tokens/s (median round):")
    print(f"  ceiling, llama.cpp decoding {len(text)} tokens in one call with all logits: {rate['ceiling']:.0f}")
    print(f"  scorer, batched (several sentences per decode call):   {rate['batched']:.0f}")
    print(f"  scorer, one sentence per decode call (before):        {rate['one at a time']:.0f}")
    print(f"batched / ceiling: {rate['batched'] / rate['ceiling']:.2f} (target 0.9 or more)")
    print(f"batched / one at a time: {rate['batched'] / rate['one at a time']:.2f}")


if __name__ == "__main__":
    main()
