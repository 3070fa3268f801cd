"""The server scorer (`--scorer openai/MODEL`) in a process of its own, so the eval's own work never holds up its requests.

Each scored sentence costs the client about half a millisecond of CPU to send and read (nine or so requests a record).
In the eval's process that work shares one interpreter lock with the eval's own (the signals and the verdicts of the
records already scored), and each held the other up: the server saw far fewer requests in flight than the
concurrency allows. So the ServerScorer (its event loop, connections and call layer) runs in a child process started
with spawn, and the eval sends each record's (request, sentences, draft) down a pipe and gets its `Scored` back.

The child makes its own call factory from the same call settings: the same retry policy and the same reply cache
(sqlite, which processes share safely). Rate limits (`--rpm`, `--tpm`) are shared by every role on one endpoint, and a
child's limiter would not be shared, so with limits set the scorer stays in the eval's process (`load`).

Before any work the child probes the server: its refusal comes back as the same UserError (exit 2, with the fix). If
the child stops (killed, out of memory), every record it had not scored, and every later one, is scored by the fast
scorer, and its eval line says why, as for a server that stays down.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import signal
import threading
from concurrent.futures import Future, wait
from multiprocessing import get_context
from typing import TYPE_CHECKING

from constitutional.calls.factory import Calls, call_settings
from constitutional.errors import UserError
from constitutional.evals.server_scorer import ServerScorer, probed, scored_by_fast

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from constitutional.calls.settings import CallSettings
    from constitutional.evals.scorer import ScoreCache, Scored, SentenceScore

STOPPED = "the scorer's process stopped"


def load(spec: str, calls: Calls | None, settings: CallSettings | None, cache: ScoreCache | None) -> ServerScorer | ScorerProcess:
    """The scorer of `spec` on its server, probed before it is returned. A job's scorer (made with the job's call
    factory, `calls`) runs in a process of its own; in this one, a scorer made alone (the check before any work, a
    script), one given a cache object, and one whose rate limits it must share with the job's other roles."""
    settings = settings or call_settings()
    if calls is None or settings.rpm or settings.tpm or cache is not None:
        return ServerScorer.connect(spec, calls, settings, cache)
    return ScorerProcess(spec, settings)


class ScorerProcess:
    """An AsyncScorer whose ServerScorer runs in a child process (see the module's doc)."""

    def __init__(self, spec: str, settings: CallSettings):
        self.spec = spec
        self.fallbacks = 0  # records the fast scorer scored: the server failed for them, or the child stopped
        self._pending: dict[int, tuple[Future[Scored], tuple[str, list[str], str | None]]] = {}
        self._keys = itertools.count()
        self._lock = threading.Lock()  # guards _pending, _stopped and sending
        self._stopped = False
        context = get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, spec, settings, set(probed)), name="server-scorer")
        self._process.daemon = True
        self._process.start()
        child.close()
        try:
            ready = self._conn.recv()
        except EOFError:
            ready = ("failed", f"{STOPPED} before it probed the server")
        if ready[0] != "ready":
            self.close()
            if ready[0] == "refused":
                raise UserError(ready[1], fix=ready[2])
            raise RuntimeError(ready[1])
        self._reader = threading.Thread(target=self._read, name="server-scorer-replies", daemon=True)
        self._reader.start()

    def score(self, request: str, sentences: list[str], draft: str | None = None) -> tuple[list[SentenceScore], bool]:
        found = self._submit(request, sentences, draft).result()
        return found.scores, found.cut

    async def ascore(self, request: str, sentences: list[str], draft: str | None = None) -> Scored:
        return await asyncio.wrap_future(self._submit(request, sentences, draft))

    def close(self) -> None:
        with self._lock:
            if not self._stopped:
                self._stopped = True
                try:
                    self._conn.send(None)
                except OSError:
                    pass
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()

    def _submit(self, request: str, sentences: list[str], draft: str | None) -> Future[Scored]:
        future: Future[Scored] = Future()
        with self._lock:
            if not self._stopped:
                key = next(self._keys)
                self._pending[key] = (future, (request, sentences, draft))
                try:
                    self._conn.send((key, request, sentences, draft))
                    return future
                except OSError:
                    del self._pending[key]
        future.set_result(self._fallback(request, sentences, draft))
        return future

    def _read(self) -> None:
        """Hand each reply to its record; when the child stops, its records go to the fast scorer."""
        while True:
            try:
                key, found = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future, _ = self._pending.pop(key)
            if isinstance(found, str):  # the child's scorer raised what it should not: a bug, said as one
                future.set_exception(RuntimeError(f"the server scorer failed: {found}"))
                continue
            if found.fallback:
                self.fallbacks += 1
            future.set_result(found)
        with self._lock:
            self._stopped = True
            left, self._pending = self._pending, {}
        for future, record in left.values():
            future.set_result(self._fallback(*record))

    def _fallback(self, request: str, sentences: list[str], draft: str | None) -> Scored:
        self.fallbacks += 1
        return scored_by_fast(request, sentences, draft, STOPPED)


def _serve(conn: Connection, spec: str, settings: CallSettings, known: set[str]) -> None:
    """The child: probe the server (unless this job's process did, `known`), then score each record sent until None
    (or the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the eval's to handle: it closes this process in order
    probed.update(known)
    calls = Calls(settings)
    try:
        scorer = ServerScorer.connect(spec, calls, settings, None)
    except UserError as exc:
        conn.send(("refused", exc.problem, exc.fix))
        return
    except Exception as exc:  # noqa: BLE001 - the parent says what stopped the child
        conn.send(("failed", f"{STOPPED}: {exc}"))
        return
    gc.freeze()  # what the child made so far (its modules, the scorer) lives as long as it does: never walk it again
    conn.send(("ready",))
    sending = threading.Lock()
    jobs: set[Future[Scored]] = set()
    try:
        while (message := _next(conn)) is not None:
            key, request, sentences, draft = message
            job = scorer.submit(request, sentences, draft)
            jobs.add(job)
            job.add_done_callback(functools.partial(_reply, conn, sending, key))
            job.add_done_callback(jobs.discard)
        wait(list(jobs))
    finally:
        scorer.close()
        calls.close()


def _next(conn: Connection) -> tuple | None:
    try:
        return conn.recv()
    except EOFError:
        return None


def _reply(conn: Connection, sending: threading.Lock, key: int, job: Future[Scored]) -> None:
    try:
        found: Scored | str = job.result()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it for the record
        found = f"{type(exc).__name__}: {exc}"
    with sending:
        try:
            conn.send((key, found))
        except OSError:  # the parent has gone
            pass
