"""`cai run`: draft, critique and revise every prompt of a prompt set. This module reads the options and shows the
job; `pipeline.service.run_pipeline` runs it."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from constitutional.calls.batch import has_batch_api
from constitutional.calls.factory import Calls
from constitutional.cli import options as opt
from constitutional.cli.common import EXIT_OK, EXIT_RECORD_ERRORS, err_console, say, user_errors, warn, wrapped
from constitutional.cli.eval_stage import evaluate_and_report
from constitutional.cli.progress import RunProgress, kind_lines
from constitutional.evals import read_input
from constitutional.evals.service import (
    NO_JUDGE_NOTE,
    EvalRequest,
    JudgeChoice,
    check_scorer,
    judge_left_out,
    judge_spec,
    scorer_settings,
)
from constitutional.pipeline.prompt_sets import DEFAULT_MAX_PROMPT_CHARS, InputProblem
from constitutional.pipeline.runner import EARLY_STOP_AFTER, JobStopped
from constitutional.pipeline.service import RunOutcome, RunRequest, run_pipeline
from constitutional.text import printable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from constitutional.calls.settings import CallSettings

ERROR_KINDS_SHOWN = 5
KIND_LINE_MOST = 400  # characters of an error's message in the summary, wrapped at word boundaries


class RunScreen:
    """What `cai run` shows on stderr while the job is prepared and run (see pipeline.service.RunUI)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.shown: RunProgress | None = None

    def say(self, line: str) -> None:
        say(line)

    def warn(self, line: str) -> None:
        warn(line)

    def skipped(self, prompts: Path, problem: InputProblem) -> None:
        err_console.print(f"[yellow]skipped[/] {escape(str(prompts))}:{problem.line}: {escape(printable(problem.message))}")

    @contextmanager
    def progress(self, total: int) -> Iterator:
        self.shown = RunProgress(total, self.quiet)
        with self.shown.shown():
            yield self.shown.on_record


Prompts = Annotated[
    Path,
    typer.Argument(help='JSONL ({"id"?, "prompt", ...}), CSV with a \'prompt\' column, or text: one prompt a line.'),
]
Constitution = Annotated[
    str,
    typer.Option(
        "--constitution", "-c", help="A constitution file or a built-in name.", metavar="PATH", rich_help_panel=opt.LOOP_PANEL
    ),
]
Model = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="local, local:PATH.gguf, openai/MODEL, ... (`cai models`).",
        metavar="SPEC",
        rich_help_panel=opt.MODEL_PANEL,
    ),
]
Judge = Annotated[
    str | None,
    typer.Option(
        "--judge",
        "-j",
        help="Judge spec, or none; auto (default): --model, unless it is 'local'.",
        metavar="SPEC",
        rich_help_panel=opt.EVAL_PANEL,
    ),
]
ModelBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--model-base-url",
        help="Server of an openai/ or anthropic/ model (default: $OPENAI_BASE_URL...).",
        metavar="URL",
        rich_help_panel=opt.MODEL_PANEL,
    ),
]
JudgeBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--judge-base-url",
        help="The judge's server (default: --model-base-url if it is the model).",
        metavar="URL",
        rich_help_panel=opt.EVAL_PANEL,
    ),
]
Out = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="Run directory, resumed if it exists (default: runs/DATE-TIME).", rich_help_panel=opt.OUTPUT_PANEL
    ),
]
Rounds = Annotated[
    int | None,
    typer.Option(
        "--rounds", min=1, max=16, help="Rounds per prompt, 1-16 (default: the constitution's).", rich_help_panel=opt.LOOP_PANEL
    ),
]
Principles = Annotated[
    str | None,
    typer.Option("--principles", help="all, or sample:K (K at random each round).", rich_help_panel=opt.LOOP_PANEL),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed for sampling principles.", rich_help_panel=opt.LOOP_PANEL)]
MaxTokens = Annotated[
    int | None,
    typer.Option(
        "--max-tokens", min=16, help="Most tokens a reply (default: 256 / 384 / 320 a step).", rich_help_panel=opt.MODEL_PANEL
    ),
]
Concurrency = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, help="Prompts in flight (default: the provider's).", rich_help_panel=opt.CALLS_PANEL),
]
Limit = Annotated[
    int | None, typer.Option("--limit", min=1, help="Only the first N usable prompts.", rich_help_panel=opt.INPUT_PANEL)
]
MaxPromptChars = Annotated[
    int,
    typer.Option("--max-prompt-chars", min=1, help="Skip, with a warning, longer prompts.", rich_help_panel=opt.INPUT_PANEL),
]
Strict = Annotated[
    bool, typer.Option("--strict", help="Stop before any work on a malformed prompt line.", rich_help_panel=opt.INPUT_PANEL)
]
Force = Annotated[
    bool,
    typer.Option("--force", help="Resume though the constitution, model or settings changed.", rich_help_panel=opt.OUTPUT_PANEL),
]
RetryErrors = Annotated[
    bool,
    typer.Option("--retry-errors", help="Resuming, redo the records that ended with an error.", rich_help_panel=opt.OUTPUT_PANEL),
]
KeepGoing = Annotated[
    bool,
    typer.Option(
        "--keep-going",
        help=f"Go on when the first {EARLY_STOP_AFTER} prompts all fail alike (default: stop).",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
]
NoEval = Annotated[bool, typer.Option("--no-eval", help="Skip the eval stage.", rich_help_panel=opt.EVAL_PANEL)]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="A log line per record, no progress bar.", rich_help_panel=opt.OUTPUT_PANEL)
]
Executor = Annotated[
    str,
    typer.Option(
        "--executor", help="in-process, batch (a provider batch API) or ray.", metavar="NAME", rich_help_panel=opt.CALLS_PANEL
    ),
]


@user_errors
def run(
    ctx: typer.Context,
    prompts: Prompts,
    constitution: Constitution = "default",
    model: Model = "local",
    judge: Judge = None,
    model_base_url: ModelBaseUrl = None,
    judge_base_url: JudgeBaseUrl = None,
    judge_concurrency: opt.JudgeConcurrency = None,
    out: Out = None,
    rounds: Rounds = None,
    principles: Principles = None,
    seed: Seed = 0,
    max_tokens: MaxTokens = None,
    concurrency: Concurrency = None,
    rpm: opt.Rpm = None,
    tpm: opt.Tpm = None,
    max_retries: opt.MaxRetries = 4,
    reasks: opt.Reasks = 1,
    timeout: opt.Timeout = None,
    max_reply_bytes: opt.MaxReplyBytes = None,
    no_cache: opt.NoCache = False,
    cache_dir: opt.CacheDir = None,
    limit: Limit = None,
    max_prompt_chars: MaxPromptChars = DEFAULT_MAX_PROMPT_CHARS,
    strict: Strict = False,
    force: Force = False,
    retry_errors: RetryErrors = False,
    keep_going: KeepGoing = False,
    no_eval: NoEval = False,
    scorer: opt.Scorer = None,
    scorer_base_url: opt.ScorerBaseUrl = None,
    scorer_workers: opt.ScorerWorkers = 1,
    judge_mode: opt.JudgeMode = "checklist",
    debaters: opt.Debaters = None,
    quiet: Quiet = False,
    executor: Executor = "in-process",
    ray_address: opt.RayAddress = None,
) -> None:
    """Draft an answer to each prompt, critique it against the constitution, and revise it.

    Writes DIR/run.json and DIR/records.jsonl; the same --out again resumes. Exit codes: 0 ok; 1 some records or
    prompt lines had errors; 2 bad input.
    """
    raise typer.Exit(run_command(ctx.params))


def run_command(options: dict[str, Any]) -> int:
    """`cai run` with its parsed options (`ctx.params`); the exit code."""
    request, no_eval = run_request(options), options["no_eval"]
    if not no_eval and judge_left_out(options["judge"], options["model"]):
        say(NO_JUDGE_NOTE)
    choice = JudgeChoice() if no_eval else JudgeChoice.parse(options["judge_mode"], options["debaters"], request.judge)
    screen = RunScreen(options["quiet"])
    calls = Calls(request.calls)
    try:  # a bad --scorer is refused before any model call
        outcome = run_pipeline(request, screen, calls, preflight=lambda: _check_scorer(request, options))
        _say_done(outcome, screen)
        eval_errors = 0 if no_eval else _evaluate(request, outcome, options, choice, calls)
    except JobStopped as stop:
        _say_stopped(stop, request.out)
        return EXIT_RECORD_ERRORS
    finally:
        calls.close()
    # a rerun that redid nothing still ends as the job did: its records' errors were not fixed (exit 1, as at first)
    failed = outcome.result.errors or outcome.errored_before or outcome.scan.problem_count or eval_errors
    return EXIT_RECORD_ERRORS if failed else EXIT_OK


# How the run's model is called: CallSettings' fields, named as `cai run`'s options.
# `cai run`'s options that the job itself does not take (the front end's and the eval's), or takes in another form.
FRONT_END_ONLY = {
    *("judge_base_url", "judge_concurrency", "no_eval", "scorer", "scorer_base_url", "scorer_workers", "quiet"),
    *("judge_mode", "debaters", "no_cache", "model_base_url", "out", "judge", "concurrency", *opt.CALL_OPTIONS),
}


def run_request(options: dict[str, Any]) -> RunRequest:
    """The job of `cai run`'s parsed options (`ctx.params`, named as RunRequest's fields where they are the same)."""
    same = {name: value for name, value in options.items() if name not in FRONT_END_ONLY}
    return RunRequest(
        **same,
        out=options["out"] or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"),
        judge=judge_spec(options["judge"], options["model"]),
        calls=opt.call_settings_of(options, options["concurrency"], options["model_base_url"]),
    )


def judge_settings(request: RunRequest, base_url: str | None, concurrency: int | None) -> CallSettings:
    """The judge's CallSettings: the run's, field by field, with the judge's own flags over them. The run's server
    (--model-base-url) is the judge's only when the judge is the run's model."""
    same_model = request.judge == request.model
    server = base_url or (request.calls.base_url if same_model else None)
    return request.calls.model_copy(update={"base_url": server}).but(concurrency=concurrency)


def _check_scorer(request: RunRequest, options: dict[str, Any]) -> None:
    """Refuse a bad --scorer, or a scorer server that cannot score, before any model call of the run; say what
    --scorer-workers will do where it is not what it says."""
    if not options["no_eval"]:
        settings = scorer_settings(_judge_settings(request, options), options["scorer_base_url"])
        note = check_scorer(options["scorer"], settings, options["scorer_workers"])
        if note:
            warn(note)


def _judge_settings(request: RunRequest, options: dict[str, Any]) -> CallSettings:
    return judge_settings(request, options["judge_base_url"], options["judge_concurrency"])


def _evaluate(request: RunRequest, outcome: RunOutcome, options: dict[str, Any], choice: JudgeChoice, calls: Calls) -> int:
    """The eval stage over the run's records; the number of records it could not evaluate."""
    judge = outcome.config.judge_spec
    batched = request.executor == "batch" and judge is not None and has_batch_api(judge)
    if request.executor == "batch" and judge is not None and not batched:
        err_console.print(f"the judge {escape(judge)} has no batch API: its calls run synchronously at list price")
    settings = _judge_settings(request, options)
    scorer = options["scorer"]
    evaluation = EvalRequest(
        read_input(request.out),
        outcome.config.constitution,
        request.out,
        judge,
        settings,
        scorer,
        choice,
        batched,
        executor="ray" if request.executor == "ray" else "in-process",  # a batch run's judge is batched instead
        ray_address=request.ray_address,
        scorer_base_url=options["scorer_base_url"],
        scorer_workers=options["scorer_workers"],
    )
    return evaluate_and_report(evaluation, calls, options["quiet"]).errors


def _say_done(outcome: RunOutcome, screen: RunScreen) -> None:
    result, scan, out = outcome.result, outcome.scan, outcome.config.out
    stats = result.stats
    summary = (
        f"wrote {result.records} records to {out}/records.jsonl "
        f"({result.errors} with errors, {scan.problem_count} prompt lines skipped); "
        f"{stats.attempts} model requests ({stats.retries} retries), {stats.cache_hits} cache hits, "
        f"{result.usage.input_tokens + result.usage.output_tokens} tokens, ${result.usage.cost_usd:.4f}"
    )
    err_console.print(escape(wrapped(summary)))
    if result.errors:
        err_console.print("errors by kind (the first message of each; every one is in records.jsonl):")
        for line in kind_lines(result.error_kinds, ERROR_KINDS_SHOWN, width=KIND_LINE_MOST):
            err_console.print(escape(wrapped(printable(line), indent="  ")))


def _say_stopped(stop: JobStopped, out: Path) -> None:
    err_console.print(
        f"[bold red]stopped:[/] the first {stop.records} records all failed alike, as the prompts left likely would:\n"
        f"{escape(wrapped(printable(str(stop)), indent='  '))}\n"
        f"Fix that, then rerun the same command to resume with the prompts left (the {stop.records} records\n"
        f"already in {escape(str(out))}/records.jsonl keep their error; add --retry-errors to redo them too),\n"
        "or add --keep-going to run every prompt whatever fails."
    )
