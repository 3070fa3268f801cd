"""How a job's prompts are run: in this process (the default), as provider batches, or across Ray workers.

Executors register by name, like model providers: each module is imported only when its executor is chosen, so
neither an SDK nor Ray is needed to import constitutional. Every executor takes a `Job` and writes its records
through the runner's `run_output`, so a run directory is the same whichever ran it, and resumes under any of them.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from constitutional.calls.batch import attach_batcher, has_batch_api
from constitutional.errors import UserError, install_fix
from constitutional.pipeline.runner import RunConfig, RunResult, RunState, Scan, run_job

if TYPE_CHECKING:
    from collections.abc import Callable

    from constitutional.calls.factory import Calls
    from constitutional.calls.managed import ManagedModel
    from constitutional.record import Record


@dataclass
class Job:
    """One run of a prompt set into a run directory (opened by `open_run_dir`), ready for an executor."""

    config: RunConfig
    scan: Scan
    state: RunState
    model: ManagedModel  # the driver's: the in-process and batch executors run on it; Ray's workers make their own
    calls: Calls  # the factory that made it, with the job's CallSettings (Ray's workers get a share of them)
    on_record: Callable[[Record], None] = lambda record: None
    say: Callable[[str], None] = lambda line: None


class Executor(Protocol):
    def check(self, model_spec: str) -> None:
        """Refuse, with a UserError, a model this executor cannot run, before any work."""

    def run(self, job: Job) -> RunResult:
        """Run the job to the end (or raise JobStopped); the result carries the calls made in `stats`."""


@dataclass(frozen=True)
class Registered:
    name: str
    target: str  # "module:factory", imported when the executor is chosen
    summary: str
    requires: str | None = None  # import name of the package it needs
    requires_label: str = ""  # that package as a person names it
    install: str = ""  # how to install it
    options: tuple[str, ...] = ()  # keyword options its factory takes (--ray-address: address)


EXECUTORS = {
    e.name: e
    for e in [
        Registered(
            "in-process",
            "constitutional.pipeline.executors:InProcessExecutor",
            "the prompts run in this process, at --concurrency at once",
        ),
        Registered(
            "batch",
            "constitutional.pipeline.executors:BatchExecutor",
            "each stage as one provider batch, at batch prices (openai/ and anthropic/ models)",
        ),
        Registered(
            "ray",
            "constitutional.pipeline.executors.ray_executor:RayExecutor",
            "the prompts sharded across Ray workers",
            "ray",
            "Ray",
            install_fix("ray"),
            ("address",),
        ),
    ]
}


def check_executor(executor: str, model_spec: str, **options: object) -> Executor:
    """The executor registered as `executor`, having refused, before any work, a model it cannot run."""
    chosen = create_executor(executor, **options)
    chosen.check(model_spec)
    return chosen


def create_executor(executor: str, **options: object) -> Executor:
    """The executor registered as `executor`, its module imported now; an unknown one, or one whose package is not
    installed, is refused. Options it does not take are ignored (as --ray-address is without --executor ray), and so
    are options left unset (None)."""
    entry = EXECUTORS.get(executor)
    if entry is None:
        raise UserError(f"unknown executor '{executor}'", fix=f"use one of: {', '.join(EXECUTORS)}")
    if entry.requires and importlib.util.find_spec(entry.requires) is None:
        raise UserError(f"--executor {entry.name} needs {entry.requires_label}, which is not installed", fix=entry.install)
    module_name, factory = entry.target.split(":")
    taken = {key: value for key, value in options.items() if key in entry.options and value is not None}
    return getattr(importlib.import_module(module_name), factory)(**taken)


class InProcessExecutor:
    """The prompts run in this process, on the driver's model, at most `config.concurrency` at once."""

    def check(self, model_spec: str) -> None:
        pass  # any model runs in process

    def run(self, job: Job) -> RunResult:
        result = asyncio.run(run_job(job.config, job.model, job.scan, job.state, job.on_record))
        result.stats = job.model.stats
        return result


class BatchExecutor:
    """The in-process runner on the job's model with a Batcher attached: every prompt in flight at once, so each stage
    of every prompt's loop goes to the provider's batch API as one batch (split only by the provider's limits)."""

    def check(self, model_spec: str) -> None:
        if not has_batch_api(model_spec):
            raise UserError(
                f"--executor batch needs a model with a batch API, not '{model_spec}'",
                fix="use an openai/MODEL or anthropic/MODEL spec, or drop --executor batch",
            )

    def run(self, job: Job) -> RunResult:
        attach_batcher(job.model, job.config.out / "batches.json", "model", job.say)
        in_flight = max(1, min(job.scan.total, job.model.default_concurrency))
        return InProcessExecutor().run(replace(job, config=replace(job.config, concurrency=in_flight)))
