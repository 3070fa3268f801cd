"""Provider batch APIs as a transport: a wave of calls goes to the provider as batches (split by its limits),
is polled until it ends, and comes back as one outcome per call, failed requests resubmitted as the one retry
policy says. DIR/batches.json (calls/batch_log.py) keeps every batch id, so a restarted process submits nothing
twice. The run's executor (pipeline/executors/batch.py) and the eval's judge (evals/batch_judge.py) both send
their waves through `Waves`: redaction, the empty-reply rule and the batch price are applied here, once.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar, TypeVarTuple

from constitutional.calls.retry import RetryPolicy
from constitutional.errors import UserError
from constitutional.models.base import ChatModel, Completion, ModelError
from constitutional.models.http_errors import empty_reply, is_empty
from constitutional.models.secrets import Redactor, environment_redactor

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from constitutional.calls.batch_log import BatchLog
    from constitutional.calls.managed import CallStats
    from constitutional.calls.pricing import Price
    from constitutional.calls.request import Call

POLL_ENV = "CONSTITUTIONAL_BATCH_POLL_SECONDS"  # the first wait between polls; it grows to POLL_MAX
POLL_MAX = 60.0
PROGRESS_EVERY = 300.0  # seconds between lines saying how far a running batch is, when only its counts change
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


def _not_empty(outcome: Outcome) -> Outcome:
    """An empty reply in a batch result fails retryably, as a synchronous one does (it is sent again, never cached)."""
    if isinstance(outcome, Completion) and is_empty(outcome.text):
        return empty_reply("the batch API")
    return outcome


class BatchAPI(Protocol):
    """One provider's batch API. Requests are built and replies read by the provider's own `build_request` and
    `read_reply`, as for its synchronous calls. Each method makes one attempt: `Waves` retries them."""

    max_requests: int
    max_bytes: int

    def entry(self, custom_id: str, call: Call) -> dict: ...
    async def submit(self, entries: list[dict], progress: dict, save: Callable[[], None]) -> str:
        """Submit one batch; return its id. Steps before the batch exists may be kept in `progress` (then
        `save()`), so that a restarted process can find a batch whose id it never saw."""

    async def poll(self, batch_id: str) -> Polled: ...
    async def results(self, batch_id: str, calls: dict[str, Call]) -> dict[str, Outcome]: ...
    async def aclose(self) -> None: ...


@dataclass
class Waves:
    api: BatchAPI
    log: BatchLog
    say: Callable[[str], None]
    poll_start: float
    stats: CallStats
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_retries=0))  # batch API calls, and
    # resubmissions of requests that failed retryably (up to max_retries, as a synchronous call is retried)
    redactor: Redactor = field(default_factory=environment_redactor)  # API keys a reply echoes are cut out

    async def run(self, number: int, calls: dict[str, Call]) -> dict[str, Outcome]:
        """Each call's outcome, from the wave's batches: submitted now, or found in batches.json.

        Requests that failed retryably (rate limits, overload, expiry, no result) go again in a batch
        of their own, up to the policy's max_retries times, as a synchronous call is retried."""
        wave = self.log.wave(number, calls)
        label = f"wave {number + 1} ({', '.join(wave['stages'])})"
        outcomes = await self._batches(wave["batches"], calls, label)
        retries = wave.setdefault("retries", [])
        for attempt in range(self.retry.max_retries):
            again = sorted(cid for cid, outcome in outcomes.items() if isinstance(outcome, ModelError) and outcome.retryable)
            if not again:
                break
            if attempt == len(retries):
                retries.append({"ids": again, "batches": []})
                self.log.save()
            retried = {cid: calls[cid] for cid in retries[attempt]["ids"]}
            self.stats.retries += len(retried)
            outcomes.update(await self._batches(retries[attempt]["batches"], retried, f"{label}, retry {attempt + 1}"))
        return outcomes

    async def _batches(self, batches: list[dict], calls: dict[str, Call], label: str) -> dict[str, Outcome]:
        """Submit the calls as batches (those not in `batches` yet), wait for them, and read their outcomes."""
        chunks = await self._chunks(calls)
        for index, entries in enumerate(chunks):
            if index == len(batches):
                batches.append({"id": None, "requests": len(entries), "status": "submitting"})
            batch = batches[index]
            if batch["id"] is None:  # else submitted before a restart
                batch["id"] = await self._provider(self.api.submit, entries, batch, self.log.save)
                batch["status"] = "submitted"
                self.log.save()
                self.stats.attempts += len(entries)
        self.say(f"{label}: {len(calls)} requests in {len(batches)} batch(es): {', '.join(b['id'] for b in batches)}")
        outcomes: dict[str, Outcome] = {}
        for batch in batches:
            await self._wait(batch)
            outcomes.update(await self._provider(self.api.results, batch["id"], calls))
        ended = sorted({b.get("provider_status", b["status"]) for b in batches})
        missing = ModelError(
            f"the batch ended ({', '.join(ended)}) without a result for this request", retryable=ended != ["failed"]
        )  # a batch the provider refused whole fails again
        # Where batch replies enter the pipeline: API keys they echo are cut out, as from synchronous replies.
        return {custom_id: _not_empty(self.redactor.outcome(outcomes.get(custom_id, missing))) for custom_id in calls}

    async def _chunks(self, calls: dict[str, Call]) -> list[list[dict]]:
        """The wave's requests split by the provider's limits on requests and bytes per batch."""
        chunks: list[list[dict]] = [[]]
        size = 0
        for custom_id, call in calls.items():
            entry = self.api.entry(custom_id, call)
            length = len(json.dumps(entry).encode()) + 1
            if chunks[-1] and (len(chunks[-1]) >= self.api.max_requests or size + length > self.api.max_bytes):
                chunks.append([])
                size = 0
            chunks[-1].append(entry)
            size += length
        return chunks

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


def first_poll_wait() -> float:
    return float(os.environ.get(POLL_ENV) or 5.0)


def charge(completion: Completion, price: Price | None) -> None:
    """Set the completion's cost at the batch price."""
    completion.usage.cost_usd = price.cost(completion.usage, batched=True) if price is not None else 0.0


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
