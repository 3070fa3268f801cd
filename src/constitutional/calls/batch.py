"""Provider batch APIs as a transport under the managed model: `attach_batcher` gives a ManagedModel a Batcher, and
each request it would send at once goes in a provider batch instead, at the batch price.

The Batcher collects the requests made at the same time (a stage of every prompt in flight, say) and submits them as
one batch once no new request has come for QUIET seconds, or at once when the batch is full (the provider's limits on
requests and bytes). It polls each batch until it ends, saying how far it is, reads the results and hands each caller
its reply or its failure. Everything else is the managed model's, as for a call sent at once: the reply cache, the
redaction of API keys, the empty-reply rule, the retry policy (a request that failed retryably goes again, after the
backoff, in a later batch), structured re-asks, stats and pricing. Identical requests in flight share one entry.

Resuming goes by content: a request's custom id is its reply-cache key, and DIR/batches.json (calls/batch_log.py)
holds every batch with its custom ids. A restarted process first finds the batches it did not read (and any a process
that died before saving its id had made), then a request whose custom id is in one of them waits for that batch and
reads its result instead of being submitted again. The batch API's own calls (create, poll, fetch) go through the one
retry policy.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import json
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, TypeVarTuple

from constitutional.calls.batch_log import BatchLog
from constitutional.calls.limits import RateLimiter
from constitutional.errors import UserError
from constitutional.models.base import ChatCall, ChatModel, Completion, ModelError, Usage
from constitutional.settings import read_settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from pathlib import Path

    from constitutional.calls.managed import ManagedModel
    from constitutional.calls.retry import RetryPolicy
    from constitutional.models.base import Message

POLL_MAX = 60.0
PROGRESS_EVERY = 300.0  # seconds between lines saying how far a running batch is, when only its counts change
QUIET = 0.5  # seconds without a new request after which the requests waiting are submitted as one batch
IN_FLIGHT = 20_000  # calls a batched model takes at once (its default concurrency): a stage of a large job in one batch
Outcome = Completion | ModelError
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@dataclass
class Polled:
    ended: bool
    status: str  # the provider's own word for the batch's state
    done: int = 0  # requests finished so far, as the provider counts them
    total: int = 0

    def describe(self) -> str:
        return f"{self.status}, {self.done} of {self.total} requests done" if self.total else self.status


class BatchAPI(Protocol):
    """One provider's batch API. Requests are built and replies read by the provider's own `build_request` and
    `read_reply`, as for its synchronous calls. Each method makes one attempt: the Batcher retries them."""

    max_requests: int
    max_bytes: int

    def entry(self, custom_id: str, call: ChatCall) -> dict: ...
    async def submit(self, entries: list[dict], progress: dict, save: Callable[[], None]) -> str:
        """Submit one batch; return its id. What a restarted process needs to find the batch if this one dies before
        it has the id is kept in `progress` (then `save()`)."""

    async def recover(self, progress: dict) -> str | None:
        """The id of the batch whose `submit` (with this `progress`) a dead process began, if the provider has it."""

    async def poll(self, batch_id: str) -> Polled: ...
    async def results(self, batch_id: str) -> dict[str, Outcome]: ...


class Batcher:
    """Sends a managed model's requests in provider batches; see the module's docstring."""

    def __init__(self, api: BatchAPI, log: BatchLog, say: Callable[[str], None], retry: RetryPolicy):
        self.api = api
        self.log = log
        self.say = say
        self.retry = retry  # the model's: batch API calls follow it too
        self.poll_start = first_poll_wait()
        self.concurrency = IN_FLIGHT
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}  # by custom id: queued, or in a batch not yet read
        self._queue: list[dict] = []  # entries not submitted yet
        self._queued_bytes = 0
        self._last = 0.0  # when the last request was queued (the loop's clock)
        self._timer: asyncio.Task | None = None
        self._resumed: dict[str, dict] = {}  # custom id → the batch saved before a restart that holds it
        self._fetched: dict[str, Outcome] = {}  # results of resumed batches that no request has asked for yet
        self._ready: asyncio.Task | None = None  # resuming the saved batches, once, before the first request
        self._tasks: set[asyncio.Task] = set()
        self._broken: BaseException | None = None  # why a batch failed whole: no request goes on after it

    async def send(self, custom_id: str, messages: list[Message], schema: dict | None, params: dict) -> Completion:
        """The reply to one request, from the batch it goes in (or the saved batch that holds it); a failure is raised.
        A request identical to one in flight joins it, and gets its reply as a cache hit: it was paid for once."""
        if self._ready is None:
            self._ready = self._spawn(self._resume())
        await asyncio.shield(self._ready)
        if self._broken is not None:
            raise self._broken
        shared = custom_id in self._waiting
        future = self._waiting[custom_id] if shared else self._enter(custom_id, ChatCall(messages, schema, params))
        outcome = await asyncio.shield(future)
        if isinstance(outcome, ModelError):
            raise copy.copy(outcome)
        return Completion(outcome.text, usage=Usage(cache_hits=1)) if shared else outcome

    def _enter(self, custom_id: str, call: ChatCall) -> asyncio.Future[Outcome]:
        """The future of a new request: read back from a resumed batch, or queued for the next batch."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if custom_id in self._fetched:
            future.set_result(self._fetched.pop(custom_id))
            return future
        if custom_id in self._resumed:
            self._waiting[custom_id] = future
            return future  # its batch, submitted before a restart, hands it over
        entry = self.api.entry(custom_id, call)
        size = len(json.dumps(entry).encode()) + 1
        self._waiting[custom_id] = future
        if self._queue and self._queued_bytes + size > self.api.max_bytes:
            self._flush()
        self._queue.append(entry)
        self._queued_bytes += size
        self._last = asyncio.get_running_loop().time()
        if len(self._queue) >= self.api.max_requests:
            self._flush()
        elif self._timer is None:
            self._timer = self._spawn(self._quiet())
        return future

    async def _quiet(self) -> None:
        """Submit the queued requests once none has come for QUIET seconds."""
        loop = asyncio.get_running_loop()
        while self._queue:
            wait = self._last + QUIET - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                self._flush()
        self._timer = None

    def _flush(self) -> None:
        entries, self._queue, self._queued_bytes = self._queue, [], 0
        batch = {"id": None, "status": "submitting", "requests": len(entries), "custom_ids": [e["custom_id"] for e in entries]}
        self._spawn(self._follow(batch, entries))

    async def _follow(self, batch: dict, entries: list[dict] | None = None) -> None:
        """Submit the batch (when given its entries), wait for it to end, and hand each request its outcome."""
        try:
            if entries is not None:
                await self._submit(batch, entries)
            await self._wait(batch)
            outcomes = await self._provider(self.api.results, batch["id"])
            batch["status"] = "fetched"
            self.log.save()
        except asyncio.CancelledError:
            self._end(batch, None)
            raise
        except BaseException as exc:  # a refused batch (a UserError): its callers, and every request after, hear of it
            self._broken = exc
            self._end(batch, exc)
            return
        self._deliver(batch, outcomes)

    def _end(self, batch: dict, failure: BaseException | None) -> None:
        """The batch's callers still waiting get `failure` (None: they are cancelled, as the job is)."""
        for custom_id in batch["custom_ids"]:
            future = self._waiting.pop(custom_id, None)
            if future is None or future.done():
                continue
            if failure is None:
                future.cancel()
            else:
                future.set_exception(failure)

    def _deliver(self, batch: dict, outcomes: dict[str, Outcome]) -> None:
        ended = batch.get("provider_status", batch["status"])
        missing = ModelError(  # a batch the provider refused whole fails again; expired or cancelled ones may not
            f"the batch ended ({ended}) without a result for this request", retryable=ended != "failed"
        )
        for custom_id in batch["custom_ids"]:
            if self._resumed.get(custom_id) is batch:
                del self._resumed[custom_id]
            outcome = outcomes.get(custom_id, missing)
            future = self._waiting.pop(custom_id, None)
            if future is None:
                self._fetched[custom_id] = outcome  # a resumed batch's request that nobody has asked for yet
            elif not future.done():
                future.set_result(outcome)

    async def _submit(self, batch: dict, entries: list[dict]) -> None:
        self.log.add(batch)  # with its custom ids, before the provider hears of it
        batch["id"] = await self._provider(self.api.submit, entries, batch, self.log.save)
        batch["status"] = "submitted"
        self.log.save()
        self.say(f"the {self.log.role}'s {len(entries)} requests submitted as batch {batch['id']}")

    async def _resume(self) -> None:
        """Before the first request: the batches saved in the log that no process has read are waited for and read,
        and a batch whose creation a dead process began is found (or forgotten, if the provider never made it)."""
        if self.log.older:
            self.say(f"{self.log.path} was written by an older version: its batches are kept there but not resumed")
        saved = self.log.unfetched()
        if saved:
            self.say(
                f"resuming the {self.log.role}'s batches in {self.log.path}: {len(saved)} submitted before this process, "
                "whose requests are read back rather than submitted again"
            )
        for batch in saved:
            if batch["id"] is None:
                batch["id"] = await self._provider(self.api.recover, batch)
                if batch["id"] is None:
                    self.log.drop(batch)
                    continue
                batch["status"] = "submitted"
                self.log.save()
            for custom_id in batch["custom_ids"]:
                self._resumed[custom_id] = batch
            self._spawn(self._follow(batch))

    async def _wait(self, batch: dict) -> None:
        """Poll until the batch ends, saying how far it is when its state changes (or its counts, now and then)."""
        delay, said_at = self.poll_start, 0.0
        said: Polled | None = None  # the state last said
        while batch["status"] != "ended":
            polled = await self._provider(self.api.poll, batch["id"])
            if (
                said is None
                or polled.status != said.status
                or (polled.done != said.done and time.monotonic() - said_at >= PROGRESS_EVERY)
            ):
                self.say(f"batch {batch['id']}: {polled.describe()}")
                said, said_at = polled, time.monotonic()
            if polled.ended:
                batch["status"], batch["provider_status"] = "ended", polled.status
                self.log.save()
                return
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(POLL_MAX, delay * 1.5)

    async def _provider(self, method: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        """A batch API call (create, poll, fetch), retried as the one retry policy says."""
        try:
            return await self.retry.run(lambda: method(*args))
        except ModelError as exc:
            resume = "the same command resumes: batches already submitted are not submitted again"
            if not exc.retryable:
                raise UserError(
                    f"batch API: {exc}",
                    where=str(self.log.path),
                    fix="check the model name, the key and the base URL; a server that speaks only chat "
                    "(vLLM, llama.cpp, Ollama) has no batch API: run it without --executor batch. "
                    f"Once mended, {resume}",
                ) from None
            raise UserError(f"batch API: {exc}", where=str(self.log.path), fix=f"rerun: {resume}") from None

    def _spawn(self, work: Coroutine[object, object, None]) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)
        return task


def attach_batcher(model: ManagedModel, log_path: Path, role: str, say: Callable[[str], None]) -> None:
    """Send `model`'s requests through its provider's batch API from now on, saving the batches under `role` ("model",
    "judge") in `log_path`; `say` is told of each batch submitted and of how far it is."""
    model.batcher = Batcher(batch_api(model.inner), BatchLog(log_path, role), say, model.retry)
    model.limiter = RateLimiter()  # --rpm and --tpm pace requests sent at once; a batch's requests wait in its queue


def first_poll_wait() -> float:
    return read_settings().batch_poll_wait


def has_batch_api(spec: str) -> bool:
    """Whether the provider of `spec` declares a batch API in its capabilities (its module is imported to ask)."""
    from constitutional.models.registry import provider_class

    return provider_class(spec).capabilities.batch_api is not None


def batch_api(model: ChatModel) -> BatchAPI:
    """The batch API the model's provider declares; it builds its requests and reads its replies with the provider."""
    target = model.capabilities.batch_api
    if target is None:
        raise UserError(f"model '{model.spec}' has no batch API", fix="drop --executor batch")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)(model)
