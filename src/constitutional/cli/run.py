"""`cai run`: draft, critique and revise every prompt of a prompt set."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from constitutional.cli.common import EXIT_BAD_INPUT, EXIT_OK, EXIT_RECORD_ERRORS, err_console, user_errors
from constitutional.constitution import load_constitution
from constitutional.errors import UserError
from constitutional.models import create_model
from constitutional.pipeline.loop import LoopSettings, parse_selection
from constitutional.pipeline.runner import RunConfig, prepare_out_dir, run_job, scan_prompts


@user_errors
def run(
    prompts: Path = typer.Argument(..., help="Prompt set: JSONL ({\"id\"?, \"prompt\", ...}), CSV with a 'prompt' column, or text with one prompt a line."),
    constitution: str = typer.Option("default", "--constitution", "-c", help="A constitution file (.yaml/.toml/.json) or a built-in name."),
    model: str = typer.Option("local", "--model", "-m", help="Model spec: local, local:PATH.gguf, scripted:PATH. See `cai models`."),
    out: Path = typer.Option(None, "--out", "-o", help="Run directory to write (default: runs/<date-time>)."),
    rounds: int = typer.Option(None, "--rounds", min=1, max=16, help="Critique→revise rounds per prompt (default: the constitution's, usually 1)."),
    principles: str = typer.Option(None, "--principles", help="'all' (one critique covers every principle) or 'sample:K' (K drawn at random per round)."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling principles; the same seed draws the same principles."),
    concurrency: int = typer.Option(None, "--concurrency", min=1, help="Prompts in flight at once (default: the model's own; 1 for local)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N usable prompts."),
    max_tokens: int = typer.Option(None, "--max-tokens", min=16, help="Cap on tokens per model reply, for every step (default: draft 256, critique 384, revise 320)."),
    strict: bool = typer.Option(False, "--strict", help="Stop before any work if a prompt line is malformed (default: report it and go on)."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the eval stage."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; a line per finished record instead."),
) -> None:
    """Draft an answer to each prompt, critique it against the constitution, and revise it.

    Writes DIR/run.json (manifest) and DIR/records.jsonl (one record per prompt, as each finishes).
    Exit codes: 0 all records ok; 1 some records or prompt lines had errors; 2 bad input.
    """
    loaded = load_constitution(constitution)
    defaults = loaded.constitution.defaults
    try:
        sample = parse_selection(principles or defaults.principles)
    except ValueError as exc:
        raise UserError(str(exc), fix="e.g. --principles all or --principles sample:2") from None
    settings = LoopSettings(rounds=rounds or defaults.rounds, sample=sample, seed=seed)
    if max_tokens:
        settings = replace(settings, max_tokens={step: min(n, max_tokens) for step, n in settings.max_tokens.items()})
    scan = scan_prompts(prompts, limit)
    if scan.problem_count and strict:
        shown = "\n".join(f"  {prompts}:{p.line}: {p.message}" for p in scan.problems[:20])
        raise UserError(f"{scan.problem_count} malformed prompt line(s):\n{shown}", fix="fix those lines, or drop --strict to skip them")
    for problem in scan.problems[:20]:
        err_console.print(f"[yellow]skipped[/] {escape(str(prompts))}:{problem.line}: {escape(problem.message)}")
    if scan.total == 0:
        raise UserError(f"no usable prompts in {prompts}", fix="add prompts (see `cai run --help` for the formats)")
    chat_model = create_model(model)
    out = out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    prepare_out_dir(out)
    config = RunConfig(prompts=prompts, out=out, constitution=loaded, model_spec=model, judge_spec=None,
                       settings=settings, concurrency=concurrency or chat_model.default_concurrency, limit=limit)
    result = _run_with_progress(config, chat_model, scan, quiet)
    err_console.print(
        f"wrote {result.records} records to {escape(str(out))}/records.jsonl "
        f"({result.errors} with errors, {scan.problem_count} prompt lines skipped; "
        f"{result.usage.calls} model calls, {result.usage.input_tokens + result.usage.output_tokens} tokens)"
    )
    if not no_eval:
        err_console.print("[dim]eval stage: not part of this version yet; records are ready for it.[/]")
    raise typer.Exit(EXIT_RECORD_ERRORS if result.errors or scan.problem_count else EXIT_OK)


def _run_with_progress(config: RunConfig, chat_model, scan, quiet: bool):
    if quiet:
        def log(record):
            status = f"error ({record.error.stage}): {record.error.message}" if record.error else "ok"
            err_console.print(f"{record.id}: {escape(status)}", highlight=False)
        return asyncio.run(run_job(config, chat_model, scan, log))
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("errors {task.fields[errors]}  calls {task.fields[calls]}  tokens {task.fields[tokens]}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("run", total=scan.total, errors=0, calls=0, tokens=0)
        totals = {"errors": 0, "calls": 0, "tokens": 0}

        def advance(record):
            totals["errors"] += record.error is not None
            totals["calls"] += record.usage["calls"]
            totals["tokens"] += record.usage["input_tokens"] + record.usage["output_tokens"]
            progress.update(task, advance=1, **totals)

        return asyncio.run(run_job(config, chat_model, scan, advance))


__all__ = ["EXIT_BAD_INPUT", "run"]
