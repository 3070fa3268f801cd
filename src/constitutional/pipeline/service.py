"""Running a job, one way for every front end. `build_pipeline` makes what runs a prompt (the managed model, the
constitution, the loop's settings) from the same options for `cai run` and the LangChain Runnable; `run_pipeline` runs a
whole job of them into a run directory, and `cai run` only reads its options and calls it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from constitutional.calls.factory import PROVIDER_OPTIONS, Calls
from constitutional.constitution import LoadedConstitution, load_constitution
from constitutional.errors import UserError
from constitutional.pipeline.executors import Job, check_executor
from constitutional.pipeline.loop import LoopSettings, parse_selection, process
from constitutional.pipeline.prompt_sets import DEFAULT_MAX_PROMPT_CHARS
from constitutional.pipeline.runner import RunConfig, RunResult, RunState, Scan, open_run_dir, scan_prompts

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    from constitutional.calls.managed import ManagedModel
    from constitutional.calls.settings import CallSettings
    from constitutional.models.base import ChatModel
    from constitutional.pipeline.prompt_sets import InputProblem, PromptItem
    from constitutional.record import Record

PROBLEMS_SHOWN = 20


@dataclass
class RunRequest:
    """One `cai run` job, as its options give it."""

    prompts: Path
    out: Path
    calls: CallSettings  # how the run's model is called (the judge's start from these too)
    constitution: str = "default"
    model: str = "local"
    judge: str | None = None  # the eval's judge spec as run.json records it (None: no judge)
    rounds: int | None = None  # None: the constitution's
    principles: str | None = None  # None: the constitution's
    seed: int = 0
    max_tokens: int | None = None  # a cap on every step's
    limit: int | None = None
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS
    strict: bool = False
    force: bool = False
    retry_errors: bool = False
    keep_going: bool = False
    executor: str = "in-process"
    ray_address: str | None = None


class RunUI(Protocol):
    """What a front end shows while a job is prepared and run."""

    def say(self, line: str) -> None: ...

    def warn(self, line: str) -> None: ...

    def skipped(self, prompts: Path, problem: InputProblem) -> None: ...

    def progress(self, total: int) -> AbstractContextManager[Callable[[Record], None]]:
        """Shown while the job runs; what it yields is told of every record as it is written."""


@dataclass
class RunOutcome:
    """A job run to its end; its run directory is unlocked again."""

    config: RunConfig
    scan: Scan
    result: RunResult
    errored_before: int = 0  # records written before this run that ended with an error, kept (no --retry-errors)


@dataclass
class Pipeline:
    """What runs one prompt: the managed model, the constitution and the loop's settings."""

    model: ManagedModel
    loaded: LoadedConstitution
    settings: LoopSettings

    async def process(self, item: PromptItem) -> Record:
        return await process(item, self.model, self.loaded.constitution, self.settings)


def build_pipeline(
    model: str | ChatModel,
    constitution: str | LoadedConstitution = "default",
    *,
    calls: Calls,
    rounds: int | None = None,
    principles: str | None = None,
    seed: int = 0,
    max_tokens: int | None = None,
    example: str = "--principles all or --principles sample:2",
) -> Pipeline:
    """The pipeline of these options, the constitution's defaults for the rest. `model` is a spec, made by `calls`,
    or a ChatModel, which `calls` wraps with the same cache, limits, retries and re-asks. `example` shows, in the
    front end's own terms, how to write `principles`."""
    loaded = load_constitution(constitution) if isinstance(constitution, str) else constitution
    defaults = loaded.constitution.defaults
    try:
        sample = parse_selection(principles or defaults.principles)
    except ValueError as exc:
        raise UserError(str(exc), fix=f"e.g. {example}") from None
    settings = LoopSettings(rounds=rounds or defaults.rounds, sample=sample, seed=seed)
    if max_tokens:
        settings = replace(settings, max_tokens={step: min(n, max_tokens) for step, n in settings.max_tokens.items()})
    if isinstance(model, str):
        return Pipeline(calls.model(model), loaded, settings)
    given = [name for name in PROVIDER_OPTIONS if getattr(calls.settings, name) is not None]
    if given:
        raise UserError(
            f"model options ({', '.join(given)}) apply to a model spec, not to a model object",
            fix="set them on the model object itself, or pass a spec such as 'openai/gpt-4o-mini'",
        )
    return Pipeline(calls.wrap(model), loaded, settings)


def run_pipeline(request: RunRequest, ui: RunUI, calls: Calls, preflight: Callable[[], object] = lambda: None) -> RunOutcome:
    """Check the request, open (or resume) its run directory and run every prompt left with the chosen executor; the
    directory is locked while records are written, and unlocked on return. `preflight`: the front end's own checks
    (the eval's, say), made after the executor's and before any other work; what it returns is ignored. Raises
    UserError before any work for a bad request, and JobStopped if the first records all fail alike."""
    executor = check_executor(request.executor, request.model, address=request.ray_address)
    preflight()
    config, model = _prepare(request, calls)
    scan = scan_prompts(config)
    _check_prompts(request, scan)
    state = open_run_dir(config, scan, request.force, request.retry_errors, warn=ui.warn)
    assert state.lock is not None  # open_run_dir returns the directory locked
    with state.lock:
        for problem in scan.problems[:PROBLEMS_SHOWN]:
            ui.skipped(request.prompts, problem)
        if scan.key_prompt:
            ui.warn(key_warning(request.prompts, config.out, scan))
        scan.count(state.done_ids)
        _say_resumed(ui, config, scan, state)
        job = Job(config, scan, state, model, calls, say=ui.say)
        with ui.progress(scan.total) as on_record:
            job.on_record = on_record
            result = executor.run(job)
    return RunOutcome(config, scan, result, state.errored)


def key_warning(prompts: Path, out: Path, scan: Scan) -> str:
    """One line: which prompt holds something shaped like an API key, where it will be stored, how to take it out."""
    assert scan.key_prompt is not None
    prompt_id, line, shape = scan.key_prompt
    others = scan.key_prompts - 1
    more = f" (and {others} more prompt{'s' if others > 1 else ''})" if others else ""
    return (
        f"prompt {prompt_id} ({prompts}:{line}){more} holds what looks like an API key ({shape}); it is sent to the "
        "model and kept as typed in records.jsonl, eval.jsonl, report.html and exports: if it is a real key, stop "
        f"(Ctrl-C), delete it from {prompts}, delete {out} and run again (and revoke the key)"
    )


def _prepare(request: RunRequest, calls: Calls) -> tuple[RunConfig, ManagedModel]:
    """The job's config and its model; nothing is read or written yet."""
    pipeline = build_pipeline(
        request.model,
        request.constitution,
        calls=calls,
        rounds=request.rounds,
        principles=request.principles,
        seed=request.seed,
        max_tokens=request.max_tokens,
    )
    model = pipeline.model
    config = RunConfig(
        prompts=request.prompts,
        out=request.out,
        constitution=pipeline.loaded,
        model_spec=request.model,
        judge_spec=request.judge,
        settings=pipeline.settings,
        concurrency=request.calls.concurrency or model.default_concurrency,
        calls=request.calls,
        limit=request.limit,
        max_prompt_chars=request.max_prompt_chars,
        keep_going=request.keep_going,
    )
    return config, model


def _check_prompts(request: RunRequest, scan: Scan) -> None:
    prompts = request.prompts
    if scan.problem_count and request.strict:
        shown = "\n".join(f"  {prompts}:{p.line}: {p.message}" for p in scan.problems[:PROBLEMS_SHOWN])
        raise UserError(
            f"{scan.problem_count} malformed prompt line(s):\n{shown}", fix="fix those lines, or drop --strict to skip them"
        )
    if scan.total == 0:
        shown = "".join(f"\n  {prompts}:{p.line}: {p.message}" for p in scan.problems[:PROBLEMS_SHOWN])
        raise UserError(f"no usable prompts in {prompts}{shown}", fix="add prompts (see `cai run --help` for the formats)")


def _say_resumed(ui: RunUI, config: RunConfig, scan: Scan, state: RunState) -> None:
    if state.bytes_repaired:
        ui.say(f"repaired records.jsonl: removed a torn last line ({state.bytes_repaired} bytes) left by a crash")
    if state.duplicates:
        ui.say(
            f"repaired records.jsonl: removed {state.duplicates} lines repeating an id (two runs wrote it at "
            "once); the first record of each id is kept"
        )
    if scan.already_done or state.redo:
        ui.say(f"resuming {config.out}: {scan.already_done} prompts already done, {scan.total} to go")
    if state.redo:
        ui.say(f"redoing {state.redo} prompts whose records ended with an error (--retry-errors)")
    elif state.errored:
        ui.say(f"{state.errored} records in {config.out}/records.jsonl ended with an error; add --retry-errors to redo them")


__all__ = ["Pipeline", "RunOutcome", "RunRequest", "RunUI", "build_pipeline", "run_pipeline"]
