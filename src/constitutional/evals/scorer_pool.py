"""`--scorer-workers N`: the model scorer's decoding in N processes, each with its own llama.cpp context.

The eval scores several records at once (each in a thread, off the event loop), but one llama.cpp context decodes one
call at a time. `DecoderPool` is an engine (decoding.Engine) that hands each call to whichever of N worker processes is
free, so N records are decoded at once on a machine with the cores for it. Everything else stays in the calling
process: tokenizing, the score cache (the reply cache) and the neutral memo (scorer.ModelScorer), so the pool only
ever sees token ids. Each worker gets its share of the threads (`threads_each`), so N workers do not fight over the
cores. A worker decodes exactly what the single context would (the packing is the same whichever process runs it),
so the scores, and the eval lines, do not depend on N.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from constitutional.evals.decoding import Decoder
from constitutional.settings import read_settings

_worker: Decoder | None = None  # in a worker process: its decoder


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_each(workers: int) -> int:
    """llama.cpp threads per worker: OMP_NUM_THREADS (else the cores) shared out, at least one each."""
    return max(1, (read_settings().threads or cores()) // workers)


def _start(path: str, threads: int) -> None:
    global _worker
    _worker = Decoder(Path(path), threads)


def _logprobs(context: list[int], sentences: list[list[int]]) -> list[float]:
    assert _worker is not None  # set by _start, the pool's initializer
    return _worker.logprobs(context, sentences)


class DecoderPool:
    """N worker processes (started on first use, with spawn), each a Decoder with `threads_each(N)` threads."""

    def __init__(self, path: Path, workers: int):
        self.path = path
        self.workers = workers
        self.threads = threads_each(workers)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=get_context("spawn"), initializer=_start, initargs=(str(self.path), self.threads)
                )
            return self._executor

    def logprobs(self, context: list[int], sentences: list[list[int]]) -> list[float]:
        try:
            return self._pool().submit(_logprobs, context, sentences).result()
        except BrokenProcessPool:
            raise RuntimeError(
                f"a scorer worker process stopped (out of memory?); rerun with fewer --scorer-workers than {self.workers}"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
