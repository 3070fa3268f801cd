"""`cai eval`: judge whether revisions actually follow the principles or only sound compliant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from constitutional.calls.factory import Calls
from constitutional.cli import options as opt
from constitutional.cli.common import EXIT_OK, EXIT_RECORD_ERRORS, err_console, say, user_errors, warn
from constitutional.cli.eval_stage import evaluate_and_report, regressions_request, replay_regressions
from constitutional.errors import require_exists
from constitutional.evals import read_input
from constitutional.evals.agreement import markdown
from constitutional.evals.labels import read_labels_file, record_verdicts
from constitutional.evals.lines import VERDICTS, read_eval_lines
from constitutional.evals.service import (
    NO_JUDGE_NOTE,
    EvalRequest,
    JudgeChoice,
    constitution_for,
    default_judge,
    is_auto,
    judge_left_out,
    judge_spec,
)
from constitutional.redteam.results import eval_summary, load_redteam_dir
from constitutional.text import printable


def print_agreement(eval_path: Path, people: dict, labels_path: Path) -> None:
    """The eval's precision and recall against people's record-level verdicts, as a Markdown table on stdout."""
    human = record_verdicts(people)
    verdicts = {line.id: line.verdict for line in read_eval_lines(eval_path)}
    pairs: list[tuple[str, str]] = [(human[rid], verdict) for rid, verdict in verdicts.items() if rid in human]
    typer.echo(markdown(f"the eval against {printable(str(labels_path))} ({len(pairs)} labelled records)", pairs))
    unmatched = len(set(human) - set(verdicts))
    if unmatched:
        err_console.print(f"[yellow]note:[/] {unmatched} labelled ids are not in this eval and were left out")


EvalInputPath = Annotated[
    Path,
    typer.Argument(help='A run directory, or a JSONL of {"id"?, "prompt", "draft"?, "revision"}.'),
]
EvalConstitution = Annotated[
    str | None,
    typer.Option(
        "--constitution",
        "-c",
        help="A constitution file or built-in name (default: the run's).",
        metavar="PATH",
        rich_help_panel=opt.LOOP_PANEL,
    ),
]
EvalJudge = Annotated[
    str | None,
    typer.Option(
        "--judge",
        "-j",
        help="Judge spec, or none; auto (default): the run's judge or model, never 'local'.",
        metavar="SPEC",
        rich_help_panel=opt.EVAL_PANEL,
    ),
]
EvalOut = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Where eval.jsonl and the reports go (default: the run, or INPUT-eval/).",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
]
EvalJudgeBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--judge-base-url",
        help="The judge's server (default: $OPENAI_BASE_URL / $ANTHROPIC_BASE_URL).",
        metavar="URL",
        rich_help_panel=opt.EVAL_PANEL,
    ),
]
EvalQuiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=opt.OUTPUT_PANEL)]
EvalExecutor = Annotated[
    str,
    typer.Option(
        "--executor",
        help="in-process, or ray (records sharded across Ray workers).",
        metavar="NAME",
        rich_help_panel=opt.CALLS_PANEL,
    ),
]
Labels = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="A labels.jsonl from `cai review`: print precision and recall against it.",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
]

RedteamReportOption = Annotated[
    Path | None,
    typer.Option(
        "--redteam-report",
        help="A `cai redteam` directory whose numbers go into this eval's reports.",
        metavar="DIR",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
]

Regressions = Annotated[
    str | None,
    typer.Option(
        "--regressions",
        metavar="FILE|builtin",
        help="Replay past red-team successes (a found.jsonl, or builtin); exit 1 if one is genuine again.",
        rich_help_panel=opt.EVAL_PANEL,
    ),
]


@user_errors
def eval_command(
    ctx: typer.Context,
    input: EvalInputPath,
    constitution: EvalConstitution = None,
    judge: EvalJudge = None,
    out: EvalOut = None,
    judge_base_url: EvalJudgeBaseUrl = None,
    judge_concurrency: opt.JudgeConcurrency = None,
    rpm: opt.Rpm = None,
    tpm: opt.Tpm = None,
    max_retries: opt.MaxRetries = 4,
    timeout: opt.Timeout = None,
    max_reply_bytes: opt.MaxReplyBytes = None,
    no_cache: opt.NoCache = False,
    cache_dir: opt.CacheDir = None,
    quiet: EvalQuiet = False,
    scorer: opt.Scorer = None,
    scorer_base_url: opt.ScorerBaseUrl = None,
    scorer_workers: opt.ScorerWorkers = 1,
    reasks: opt.Reasks = 1,
    judge_mode: opt.JudgeMode = "checklist",
    debaters: opt.Debaters = None,
    labels: Labels = None,
    executor: EvalExecutor = "in-process",
    ray_address: opt.RayAddress = None,
    redteam_report: RedteamReportOption = None,
    regressions: Regressions = None,
) -> None:
    """Decide, per record and per principle, whether each revision genuinely follows the principles.

    Verdicts: {verdicts}.
    Exit codes: 0 ok; 1 some records could not be evaluated (verdict error), or a past red-team success (--regressions)
    is genuine without review again; 2 bad input.
    """
    require_exists(input, "eval input", fix="give a run directory (written by `cai run`) or a .jsonl file of revisions")
    if labels:
        require_exists(labels, "labels file", fix="give a labels.jsonl written by `cai review`")
    people = read_labels_file(labels) if labels else None  # read before the eval runs: a bad file costs nothing
    request = eval_request(ctx.params)
    replay = regressions_request(request, regressions) if regressions else None
    note = request.check()
    if note:
        warn(note)
    calls = Calls(request.calls)
    try:
        result = evaluate_and_report(request, calls, quiet)
        broken = replay_regressions(replay, calls) if replay else []
    finally:
        calls.close()
    if people is not None and labels is not None:
        print_agreement(request.out / "eval.jsonl", people, labels)
    raise typer.Exit(EXIT_RECORD_ERRORS if result.errors or broken else EXIT_OK)


def eval_request(options: dict[str, Any]) -> EvalRequest:
    """The eval of `cai eval`'s parsed options (`ctx.params`); the judge's CallSettings are the command's call options."""
    source, path = read_input(options["input"]), options["input"]
    given = options["judge"]
    run_model = default_judge(source) if is_auto(given) else ""  # run.json is read only when it is asked for
    if judge_left_out(given, run_model):
        say(NO_JUDGE_NOTE)
    judge = judge_spec(given, run_model)
    settings = opt.call_settings_of(options, options["judge_concurrency"], options["judge_base_url"])
    return EvalRequest(
        source,
        constitution_for(source, options["constitution"], warn),
        options["out"] or (path if source.kind == "run" else path.with_name(path.stem + "-eval")),
        judge,
        settings,
        options["scorer"],
        JudgeChoice.parse(options["judge_mode"], options["debaters"], judge),
        executor=options["executor"],
        ray_address=options["ray_address"],
        scorer_base_url=options["scorer_base_url"],
        scorer_workers=options["scorer_workers"],
        redteam=eval_summary(load_redteam_dir(options["redteam_report"])) if options["redteam_report"] else None,
    )


eval_command.__doc__ = (eval_command.__doc__ or "").format(verdicts=", ".join(VERDICTS))  # the one list of verdicts
