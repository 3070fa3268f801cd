"""`cai run`: draft, critique and revise every prompt of a prompt set. This module reads the options and shows the
job; `pipeline.service.run_pipeline` runs it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape

from constitutional.cli.common import EXIT_OK, EXIT_RECORD_ERRORS, err_console, user_errors
from constitutional.cli.eval import SCORER_HELP, evaluate_and_report, judge_spec
from constitutional.cli.progress import RunProgress
from constitutional.evals import read_input
from constitutional.evals.scorer import load_scorer
from constitutional.pipeline.executors import has_batch_api
from constitutional.pipeline.prompt_sets import DEFAULT_MAX_PROMPT_CHARS, InputProblem, prompt_char_limit
from constitutional.pipeline.runner import EARLY_STOP_AFTER, JobStopped, RunResult, Scan
from constitutional.pipeline.service import RunOutcome, RunRequest, run_pipeline
from constitutional.text import printable

ERROR_KINDS_SHOWN = 5


class RunScreen:
    """What `cai run` shows on stderr while the job is prepared and run (see pipeline.service.RunUI)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.shown: RunProgress | None = None

    def say(self, line: str) -> None:
        err_console.print(escape(line))

    def warn(self, line: str) -> None:
        err_console.print(f"[yellow]warning:[/] {escape(line)}")

    def skipped(self, prompts: Path, problem: InputProblem) -> None:
        err_console.print(f"[yellow]skipped[/] {escape(str(prompts))}:{problem.line}: {escape(printable(problem.message))}")

    @contextmanager
    def progress(self, total: int) -> Iterator:
        self.shown = RunProgress(total, self.quiet)
        with self.shown.shown():
            yield self.shown.on_record


@user_errors
def run(
    ctx: typer.Context,
    prompts: Path = typer.Argument(
        ..., help='Prompt set: JSONL ({"id"?, "prompt", ...}), CSV with a \'prompt\' column, or text with one prompt a line.'
    ),
    constitution: str = typer.Option(
        "default", "--constitution", "-c", help="A constitution file (.yaml/.toml/.json) or a built-in name."
    ),
    model: str = typer.Option(
        "local", "--model", "-m", help="Model spec: local, local:PATH.gguf, scripted:PATH, ... See `cai models`."
    ),
    judge: str = typer.Option(
        None,
        "--judge",
        "-j",
        help="Judge model spec for the eval stage, or 'none' for deterministic signals only (default: the same as --model).",
    ),
    model_base_url: str = typer.Option(
        None,
        "--model-base-url",
        help="Server URL for openai/ or anthropic/ models, e.g. http://localhost:8000/v1 (default: OPENAI_BASE_URL / "
        "ANTHROPIC_BASE_URL).",
    ),
    judge_base_url: str = typer.Option(
        None,
        "--judge-base-url",
        help="Server URL for an openai/ or anthropic/ judge (default: --model-base-url when the judge is the model, else the "
        "environment's).",
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Run directory (default: runs/<date-time>). An existing one is resumed."),
    rounds: int = typer.Option(
        None, "--rounds", min=1, max=16, help="Critique→revise rounds per prompt (default: the constitution's, usually 1)."
    ),
    principles: str = typer.Option(
        None, "--principles", help="'all' (one critique covers every principle) or 'sample:K' (K drawn at random per round)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling principles; the same seed draws the same principles."),
    max_tokens: int = typer.Option(
        None,
        "--max-tokens",
        min=16,
        help="Cap on tokens per model reply, for every step (default: draft 256, critique 384, revise 320).",
    ),
    concurrency: int = typer.Option(
        None, "--concurrency", min=1, help="Prompts in flight at once (default: the provider's; 1 for local)."
    ),
    rpm: float = typer.Option(None, "--rpm", min=0.01, help="Most model requests per minute (retries included)."),
    tpm: float = typer.Option(None, "--tpm", min=1, help="Most tokens per minute (estimated before each call, corrected after)."),
    max_retries: int = typer.Option(
        4, "--max-retries", min=0, help="Retries of a retryable failure (429, 5xx, timeouts) per call, with backoff."
    ),
    reasks: int = typer.Option(
        1,
        "--reasks",
        min=0,
        help="Times a reply that is not the JSON asked for is asked again, with the parse error, before it counts as an error.",
    ),
    timeout: float = typer.Option(
        None,
        "--timeout",
        min=0.01,
        help="Seconds to wait for one reply from openai/ or anthropic/ models before retrying (default: the SDK's, 10 minutes).",
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the reply cache."),
    cache_dir: Path = typer.Option(
        None, "--cache-dir", help="Where the reply cache lives (default: $CONSTITUTIONAL_CACHE_DIR or the user cache directory)."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N usable prompts."),
    max_prompt_chars: int = typer.Option(
        DEFAULT_MAX_PROMPT_CHARS,
        "--max-prompt-chars",
        min=1,
        help="Skip, with a warning naming its line, any prompt longer than this many characters.",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Stop before any work if a prompt line is malformed (default: report it and go on)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Resume a run directory even though the constitution, model or parameters changed."
    ),
    retry_errors: bool = typer.Option(
        False,
        "--retry-errors",
        help="Resuming, redo the prompts whose records ended with an error (a failed call, a reply that did not parse): "
        "their records are replaced, each id still written once; cached replies cost nothing.",
    ),
    keep_going: bool = typer.Option(
        False,
        "--keep-going",
        help=f"Run every prompt even when the first {EARLY_STOP_AFTER} all fail alike with an error every prompt would hit "
        "(a refused connection, a bad key, an unknown model); by default the job stops there, exit 1.",
    ),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the eval stage."),
    scorer: str = typer.Option(None, "--scorer", help=SCORER_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; a log line per finished record instead."),
    executor: str = typer.Option(
        "in-process",
        "--executor",
        help="in-process (default); batch: each stage as one provider batch at batch prices (openai/ and anthropic/ models); "
        "ray: prompts sharded across Ray workers.",
    ),
    ray_address: str = typer.Option(
        None,
        "--ray-address",
        help="Ray cluster to join with --executor ray, e.g. ray://head:10001 or auto (default: start a local instance).",
    ),
) -> None:
    """Draft an answer to each prompt, critique it against the constitution, and revise it.

    Writes DIR/run.json (manifest) and DIR/records.jsonl (one record per prompt, appended as each
    finishes). Rerunning with the same --out resumes: finished prompts are skipped (add --retry-errors
    to redo those that ended with an error), and replies already cached cost no model call. One
    `cai run` at a time writes a directory: a second is refused (exit 2) and names the first.

    Exit codes: 0 all records ok; 1 some records or prompt lines had errors; 2 bad input.
    """
    ctx.with_resource(prompt_char_limit(max_prompt_chars))  # every read of the prompt set in this command
    request = RunRequest(
        prompts=prompts,
        out=out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"),
        constitution=constitution,
        model=model,
        judge=judge_spec(judge, model),
        rounds=rounds,
        principles=principles,
        seed=seed,
        max_tokens=max_tokens,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        max_retries=max_retries,
        reasks=reasks,
        timeout=timeout,
        cache=not no_cache,
        cache_dir=cache_dir,
        base_url=model_base_url,
        limit=limit,
        strict=strict,
        force=force,
        retry_errors=retry_errors,
        keep_going=keep_going,
        executor=executor,
        ray_address=ray_address,
    )
    screen = RunScreen(quiet)
    try:  # a bad --scorer is refused before any model call
        outcome = run_pipeline(request, screen, preflight=lambda: None if no_eval else load_scorer(scorer))
    except JobStopped as stop:
        _say_stopped(stop, request.out)
        raise typer.Exit(EXIT_RECORD_ERRORS) from None
    lock, progress = outcome.job.state.lock, screen.shown
    assert lock is not None  # run_pipeline returns with the directory still locked (see RunOutcome)
    assert progress is not None  # run_pipeline ran the job inside screen.progress(), which set it
    ctx.with_resource(lock)  # held until the command ends, the eval included
    _say_done(outcome.result, outcome.job.scan, request.out, progress)
    eval_errors = 0 if no_eval else _evaluate(request, outcome, judge_base_url, quiet, scorer)
    failed = outcome.result.errors or outcome.job.scan.problem_count or eval_errors
    raise typer.Exit(EXIT_RECORD_ERRORS if failed else EXIT_OK)


def _evaluate(request: RunRequest, outcome: RunOutcome, judge_base_url: str | None, quiet: bool, scorer: str | None) -> int:
    """The eval stage over the run's records; the number of records it could not evaluate."""
    config = outcome.config
    judge_is_model = config.judge_spec == request.model  # the model's server options then apply to the judge too
    batched = request.executor == "batch" and config.judge_spec is not None and has_batch_api(config.judge_spec)
    if request.executor == "batch" and config.judge_spec is not None and not batched:
        err_console.print(f"the judge {escape(config.judge_spec)} has no batch API: its calls run synchronously at list price")
    return evaluate_and_report(
        read_input(config.out),
        config.constitution,
        config.judge_spec,
        config.out,
        quiet,
        base_url=judge_base_url or (request.base_url if judge_is_model else None),
        timeout=request.timeout if judge_is_model else None,
        cache=request.cache,
        cache_dir=request.cache_dir,
        batched=batched,
        scorer=scorer,
        reasks=request.reasks,
    ).errors


def _say_done(result: RunResult, scan: Scan, out: Path, progress: RunProgress) -> None:
    stats = result.stats
    err_console.print(
        f"wrote {result.records} records to {escape(str(out))}/records.jsonl "
        f"({result.errors} with errors, {scan.problem_count} prompt lines skipped); "
        f"{stats.attempts} model requests ({stats.retries} retries), {stats.cache_hits} cache hits, "
        f"{result.usage.input_tokens + result.usage.output_tokens} tokens, ${result.usage.cost_usd:.4f}"
    )
    if result.errors:
        err_console.print("errors by kind (the first message of each; every one is in records.jsonl):")
        for line in progress.error_kinds.lines(ERROR_KINDS_SHOWN, width=78):
            err_console.print("  " + escape(line))


def _say_stopped(stop: JobStopped, out: Path) -> None:
    err_console.print(
        f"[bold red]stopped:[/] the first {stop.records} records all failed alike, as the prompts left likely would:\n"
        f"  {escape(printable(str(stop)))}\n"
        f"Fix that, then rerun the same command to resume with the prompts left (the {stop.records} records\n"
        f"already in {escape(str(out))}/records.jsonl keep their error; add --retry-errors to redo them too),\n"
        "or add --keep-going to run every prompt whatever fails."
    )
