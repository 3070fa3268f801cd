"""llama.cpp as the model scorer's engine: log p(sentence | context) of each sentence, in one of two plans that give
the same scores, bit for bit.

- One by one (the default, `BATCHED = False`): the context is decoded once, as sequence 0 of the KV cache, but for
  its last token; each sentence is then decoded after it, that last token first, in its own decode call(s), and its
  cells are removed before the next. This is how the scorer has always decoded.
- Batched (`Decoder(..., batched=True)`): the sentences are packed into decode calls of up to BATCH tokens, each in
  its own sequence that shares the context's cells (`llama_memory_seq_cp` tags the same cells, it copies nothing). A
  sentence longer than what is left of a call carries on in the next one, where it stopped.

Same scores, bit for bit, takes care. The model's activations are rounded to 8 bits before each matrix product, so a
difference in the last bit of an attention sum can flip a rounding and move a token's log-probability by up to ~0.1
nats; and llama.cpp adds up the attention's softmax in SIMD groups of ALIGN cells (8 with AVX2), so the sums depend
on which cells share a group. The batched plan therefore puts every sentence in the cells it would have alone: the
context is decoded once only up to its last whole group of cells; each sentence is decoded after its own copy of the
context's remaining tokens (at most ALIGN) and padded to whole groups (tokens after its end, which nothing attends
to), so the next one starts a group too. llama.cpp gives each call the lowest free cells in order, so a token at
position p lands in a cell ≡ p (mod ALIGN), next to the same context cells as when alone; the cells of finished
sentences are freed only when no sentence is cut across calls, so a long sentence always goes on in cells above its
earlier ones. Without this, a sentence's score would depend on which others shared its call (and so, through the
neutral memo and the score cache, on the order records finish in).

That copy and padding cost about ALIGN tokens a sentence (answers' sentences are 10-30 tokens long), more than bigger
calls save: here (2 cores, one thread, CPU time) one sentence per call reads 0.92 as many tokens a second as llama.cpp
decoding 512 tokens in one call, and the batched plan 0.75, so one by one is the default.
benchmarks/scorer_efficiency.py measures both plans against llama.cpp's own speed on any machine.

The scorer (scorer.py) tokenizes, caches and combines; this module only decodes. scorer_pool.py runs a Decoder in each
of several processes.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from constitutional import activity

if TYPE_CHECKING:
    from pathlib import Path

    import llama_cpp
    import numpy as np
    from numpy.typing import NDArray

CHUNK = 512  # most tokens per llama.cpp decode call (the context's, one sentence's)
BATCH = 128  # tokens per decode call of the batched plan: bigger calls spend more on attention than they save
N_CTX = 4096  # the context's tokens plus one sentence's: see SENTENCE_TOKENS in scorer.py
KV_CELLS = N_CTX + CHUNK  # the context, a long sentence, and the calls it starts and ends in (2 × BATCH), and spare
ALIGN = 8  # each piece of a sentence fills whole groups of this many cells (see _Piece)
BATCHED = False  # the default plan: one sentence per decode call, measured faster here (see the module docstring)
SEQUENCES = 64  # sequences the KV cache tells apart: the context's (0) and up to 63 sentences in one decode call
TOKENIZER_CTX = 64  # the Llama object's own context: used for tokenizing only


class Engine(Protocol):
    """What the scorer needs decoded: each sentence's total log-probability (nats) after the context."""

    def logprobs(self, context: list[int], sentences: list[list[int]]) -> list[float]: ...
    def close(self) -> None: ...


class Tokenizer:
    """The model's tokenizer (the GGUF file loaded with a tiny context of its own), loaded on first use."""

    def __init__(self, path: Path, threads: int | None = None):
        self.path = path
        self.threads = threads  # llama.cpp's threads; None: llama-cpp-python's choice
        self._llm: llama_cpp.Llama | None = None
        self._load_lock = threading.Lock()

    def llm(self) -> llama_cpp.Llama:
        with self._load_lock:
            if self._llm is None:
                import llama_cpp

                from constitutional.models.local import unloadable

                try:
                    with activity.step(f"loading the local scorer ({self.path.name})"):
                        self._llm = llama_cpp.Llama(
                            model_path=str(self.path),
                            n_ctx=TOKENIZER_CTX,
                            n_batch=TOKENIZER_CTX,
                            verbose=False,
                            n_threads=self.threads,
                            n_threads_batch=self.threads,
                        )
                except ValueError as exc:  # GGUF's signature, but not a file llama.cpp can load
                    raise unloadable(self.path, exc) from None
            return self._llm

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        return self.llm().tokenize(text.encode("utf-8", "replace"), add_bos=False, special=special)

    def close(self) -> None:
        """Nothing to release but memory, which the Llama object gives back when it goes."""


@dataclass
class _Context:
    """Decoder's llama.cpp context and batch, freed (before the model) when the Decoder goes."""

    ctx: llama_cpp.llama_context_p
    batch: llama_cpp.llama_batch
    n_vocab: int


def _free(state: _Context, llm: llama_cpp.Llama) -> None:
    import llama_cpp

    llama_cpp.llama_batch_free(state.batch)
    llama_cpp.llama_free(state.ctx)
    del llm  # kept alive until here: the context needs its model


@dataclass
class _Piece:
    """Part of one unit (a sentence, after the context's last group of cells) in a batch: `count` of its tokens
    from `done`, in sequence `seq`, then `pad` tokens more in the same sequence (after the unit's, so nothing of it
    attends to them) that make the piece a multiple of ALIGN tokens long; its log-probabilities from output row `row`.
    See the module docstring for why."""

    index: int
    seq: int
    done: int
    count: int
    pad: int
    row: int = 0  # set when the batch is filled


class Decoder(Tokenizer):
    """One llama.cpp context with room for many sequences; one decoding at a time (a lock), any thread."""

    def __init__(self, path: Path, threads: int | None = None, batched: bool = BATCHED):
        super().__init__(path, threads)
        self.batched = batched  # many sentences per decode call; else one (the same scores, see the module docstring)
        self._lock = threading.Lock()
        self._state: _Context | None = None

    def _context(self) -> _Context:
        if self._state is None:
            import llama_cpp

            llm = self.llm()
            params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)  # threads etc. as Llama's
            params.n_ctx, params.n_batch, params.n_ubatch = KV_CELLS, CHUNK, CHUNK
            params.n_seq_max, params.kv_unified = SEQUENCES, True  # one pool of cells, shared by the sequences
            ctx = llama_cpp.llama_init_from_model(llm.model, params)
            if not ctx:
                raise RuntimeError(f"llama.cpp could not make a context for {self.path}")
            self._state = _Context(ctx, llama_cpp.llama_batch_init(CHUNK, 0, 1), llm.n_vocab())
            weakref.finalize(self, _free, self._state, llm)
        return self._state

    def logprobs(self, context: list[int], sentences: list[list[int]]) -> list[float]:
        """log p(sentence | context) of each sentence (a non-empty token list), in nats."""
        import llama_cpp

        with self._lock:
            state = self._context()
            memory = llama_cpp.llama_get_memory(state.ctx)
            llama_cpp.llama_memory_clear(memory, True)
            plan = self._batched if self.batched else self._one_by_one
            return [_total(parts) for parts in plan(state, memory, context, sentences)]

    def _one_by_one(
        self, state: _Context, memory: object, context: list[int], sentences: list[list[int]]
    ) -> list[list[NDArray[np.float32]]]:
        """Each sentence in its own decode calls, in sequence 0 right after the context (decoded once but for its last
        token, which starts each sentence), its cells removed before the next sentence."""
        import llama_cpp

        start = len(context) - 1
        _decode_run(state, context[:start], 0)
        found = []
        for tokens in sentences:
            unit, parts = [context[-1], *tokens], []
            for begin in range(0, len(tokens), CHUNK):
                piece = unit[begin : begin + CHUNK]
                _fill(state.batch, [(token, start + begin + i, 0, True) for i, token in enumerate(piece)])
                _decode(state)
                targets = tokens[begin : begin + len(piece)]  # the last row of a sentence predicts nothing
                parts.append(_picked(_rows(state, len(piece))[: len(targets)], targets))
            found.append(parts)
            llama_cpp.llama_memory_seq_rm(memory, 0, start, -1)
        return found

    def _batched(
        self, state: _Context, memory: object, context: list[int], sentences: list[list[int]]
    ) -> list[list[NDArray[np.float32]]]:
        """Many sentences per decode call, each in its own sequence after its own copy of the context's last group of
        cells (see the module docstring)."""
        import llama_cpp

        shared = (len(context) - 1) // ALIGN * ALIGN  # the context's whole groups of cells, decoded once
        units = [context[shared:] + tokens for tokens in sentences]  # each decoded with the context's last group
        _decode_run(state, context[:shared], 0)
        found: list[list[NDArray[np.float32]]] = [[] for _ in units]  # each sentence's tokens' log-probabilities
        waiting, free = deque(range(len(units))), list(range(SEQUENCES - 1, 0, -1))
        partial: _Piece | None = None
        done: list[int] = []  # sequences of finished sentences, whose cells are freed when no sentence is cut
        while waiting or partial is not None:
            pieces, partial = _pack(units, waiting, free, partial, memory)
            self._decode_pieces(state, units, pieces, (shared, len(context) - shared - 1), found)
            done += [piece.seq for piece in pieces if piece is not partial]
            if partial is None:  # a cut sentence carries on in cells above its own, never in freed ones below
                for seq in done:
                    llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)
                free += done
                done = []
        return found

    def _decode_pieces(
        self,
        state: _Context,
        units: list[list[int]],
        pieces: list[_Piece],
        where: tuple[int, int],
        found: list[list[NDArray[np.float32]]],
    ) -> None:
        """Decode one batch of pieces and add each piece's tokens' log-probabilities to its sentence's. `where`: the
        position of each unit's first token, and how many of its first tokens predict nothing of the sentence."""

        start, quiet = where
        entries = []
        targets: list[int] = []
        for piece in pieces:
            tokens = units[piece.index]
            end = piece.done + piece.count
            entries += [(tokens[k], start + k, piece.seq, k >= quiet) for k in range(piece.done, end)]
            entries += [(tokens[-1], start + end + k, piece.seq, False) for k in range(piece.pad)]
            piece.row = len(targets)
            targets += tokens[max(piece.done, quiet) + 1 : end + 1]
        _fill(state.batch, entries)
        _decode(state)
        picked = _picked(_rows(state, len(targets)), targets)
        for piece, after in zip(pieces, [p.row for p in pieces[1:]] + [len(targets)]):
            found[piece.index].append(picked[piece.row : after])


def _pack(
    units: list[list[int]], waiting: deque[int], free: list[int], partial: _Piece | None, memory: object
) -> tuple[list[_Piece], _Piece | None]:
    """The next batch: the unit left unfinished by the last one first, then whole units while there is room (and a
    free sequence); the last may be cut, and is then the new `partial`. Every piece is padded to a multiple of ALIGN
    tokens (see `_Piece`)."""
    import llama_cpp

    pieces: list[_Piece] = []
    used = 0
    while used < BATCH:
        if partial is not None:
            index, seq, done = partial.index, partial.seq, partial.done + partial.count
            partial = None
        elif waiting and free:
            index, seq, done = waiting.popleft(), free.pop(), 0
            llama_cpp.llama_memory_seq_cp(memory, 0, seq, -1, -1)  # the context's cells are this sequence's too
        else:
            break
        need = len(units[index]) - 1 - done  # the last token is never decoded: nothing is predicted from it
        count = min(need, BATCH - used)  # BATCH - used is a multiple of ALIGN, so the padding fits
        piece = _Piece(index, seq, done, count, -count % ALIGN)
        pieces.append(piece)
        used += piece.count + piece.pad
        if piece.count < need:
            partial = piece
    return pieces, partial


def _fill(batch: llama_cpp.llama_batch, entries: list[tuple[int, int, int, bool]]) -> None:
    """Put (token, position, sequence, wants logits) entries into the batch."""
    batch.n_tokens = len(entries)
    for i, (token, position, seq, logits) in enumerate(entries):
        batch.token[i], batch.n_seq_id[i], batch.seq_id[i][0], batch.logits[i] = token, 1, seq, logits
        batch.pos[i] = position  # type: ignore[call-overload]  # llama-cpp-python types `pos` as an array of arrays


def _total(parts: list[NDArray[np.float32]]) -> float:
    """A sentence's log-probability: its tokens' added up CHUNK at a time (as float32, the way the scorer always has),
    so the total does not depend on where the batches cut the sentence."""
    import numpy as np

    values = np.concatenate(parts)
    return sum((float(values[begin : begin + CHUNK].sum()) for begin in range(0, len(values), CHUNK)), 0.0)


def _decode_run(state: _Context, tokens: list[int], seq: int) -> None:
    """Decode tokens from position 0 in one sequence, CHUNK at a time, without logits."""
    for begin in range(0, len(tokens), CHUNK):
        _fill(state.batch, [(token, begin + i, seq, False) for i, token in enumerate(tokens[begin : begin + CHUNK])])
        _decode(state)


def _picked(rows: NDArray[np.float32], targets: list[int]) -> NDArray[np.float32]:
    """Each row's log-probability of its target token."""
    import numpy as np

    return rows[np.arange(len(targets)), targets] - _norm(rows)


def _decode(state: _Context) -> None:
    import llama_cpp

    if llama_cpp.llama_decode(state.ctx, state.batch) != 0:
        raise RuntimeError("llama.cpp could not decode the text to score")


def _rows(state: _Context, count: int) -> NDArray[np.float32]:
    """The logits of the last decode's `count` tokens that asked for them."""
    import llama_cpp
    import numpy as np

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits(state.ctx), shape=(count, state.n_vocab))


def _norm(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """log Σ exp of each row."""
    import numpy as np

    peak = rows.max(axis=1, keepdims=True)
    return np.log(np.exp(rows - peak).sum(axis=1)) + peak[:, 0]
