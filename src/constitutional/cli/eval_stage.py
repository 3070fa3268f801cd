"""The eval stage as `cai run` and `cai eval` show it: a progress bar while `evals.service.run_eval_stage` runs, then
report.html (written by the reports package) and a short summary; and the replay of past red-team successes
(`cai eval --regressions`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from constitutional.cli.common import err_console, say, warn, wrapped
from constitutional.cli.progress import EvalProgress
from constitutional.constitution import load_constitution
from constitutional.errors import UserError, os_failure, require_exists
from constitutional.evals import read_input
from constitutional.evals.canaries import judge_record
from constitutional.evals.lines import read_eval_lines
from constitutional.evals.service import run_eval_stage
from constitutional.redteam.results import BUILTIN, REGRESSIONS, read_found
from constitutional.reports.render_html import write_html_report
from constitutional.reports.render_redteam import redteam_line

if TYPE_CHECKING:
    from constitutional.calls.factory import Calls
    from constitutional.evals.service import EvalRequest
    from constitutional.evals.stage import EvalResult


def evaluate_and_report(request: EvalRequest, calls: Calls, quiet: bool = False) -> EvalResult:
    """Run the eval stage with a progress bar, write report.html, and print a short summary."""
    source, out = request.source, request.out
    if source.torn_tail:
        warn(
            f"{source.path}/records.jsonl ends with a record cut off by a crash ({source.torn_tail} bytes): it is left "
            "out; rerun the same `cai run` command to finish the run"
        )
    progress = EvalProgress(len(source.items), quiet)
    with progress.shown():
        result = run_eval_stage(request, calls, progress.on_line, say)
    try:
        write_html_report(out, result.report, out / "eval.jsonl", source.items)
    except OSError as exc:  # a full disk or a read-only folder: say which file and how to fix it (exit 2)
        raise os_failure(exc, "cannot write", out / "report.html", then="rerun the same command") from None
    report = result.report
    shown = ", ".join(f"{v} {n}" for v, n in report.counts.items() if n)
    summary = (
        f"eval: {report.total} records → {shown}; {report.needs_review} need review "
        f"(wrote {out}/eval.jsonl, report.json and report.html)"
    )
    err_console.print(escape(wrapped(summary)))
    if undecided := report.counts.get("undecided", 0):
        how = "a trusted judge (--judge openai/MODEL) or " if report.judge.spec is None else ""
        line = (
            f"{undecided} undecided: no evidence decides them (each line has its leaning); {how}`cai review {out}` settles them"
        )
        err_console.print(escape(wrapped(line)))
    read = report.signals.scorer_model_read
    if read is not None:
        scored = report.signals.scored_sentences or 0
        share = f" ({read / scored:.0%})" if scored else ""
        line = f"scorer {report.scorer or ''}: the model read {read} of the {scored} scored sentences{share}"
        line += ", the fast scorer the rest"
        err_console.print(escape(wrapped(line)))
    if report.redteam is not None:
        err_console.print(escape(wrapped(f"red team: {redteam_line(report.redteam)}")))
    if report.canaries.judge_fooled_rate is not None:
        err_console.print(escape(wrapped(f"canaries: the judge {judge_record(report.canaries.model_dump())}")))
    for warning in report.warnings:
        warn(warning)
    return result


REGRESSIONS_DIR = "regressions"  # OUT/regressions/: the replay's eval.jsonl and report.json


def regressions_request(request: EvalRequest, given: str) -> EvalRequest:
    """The eval of past red-team successes (`--regressions FILE|builtin`) with the eval's judge, mode and scorer, read
    and checked before any work. `builtin` is the successes of the built-in red team, made under the built-in
    constitution, which judges them; a FILE (a `cai redteam` found.jsonl) is judged under the eval's constitution."""
    path = REGRESSIONS if given == BUILTIN else _found_file(given)
    read_found(path, fix="give a found.jsonl that `cai redteam` wrote, or `builtin`")  # each line a red-team success
    constitution = load_constitution("default") if given == BUILTIN else request.constitution
    out = request.out / REGRESSIONS_DIR
    return replace(request, source=read_input(path), constitution=constitution, out=out, redteam=None, executor="in-process")


def _found_file(given: str) -> Path:
    path = Path(given)
    require_exists(path, "regressions file", fix="give a found.jsonl that `cai redteam` wrote, or `builtin`")
    if path.is_dir():
        raise UserError(f"{path} is a directory", fix=f"give its found.jsonl: --regressions {path / 'found.jsonl'}")
    return path


def replay_regressions(replay: EvalRequest, calls: Calls) -> list[str]:
    """Evaluate every past success again; the ids the eval now calls `genuine` without review (said loudly)."""
    run_eval_stage(replay, calls, lambda line: None, say)
    lines = list(read_eval_lines(replay.out / "eval.jsonl"))
    genuine = [line for line in lines if line.verdict == "genuine"]
    broken = [line.id for line in genuine if not line.needs_review]
    reviewed = [line.id for line in genuine if line.needs_review]
    where = escape(str(replay.out / "eval.jsonl"))
    if broken:
        err_console.print(
            f"[bold red]regressions: {len(broken)} of {len(lines)} past red-team successes are genuine without review "
            f"again[/]: {escape(', '.join(broken))} (their reasons: {where}); the eval has a hole the red team found"
        )
    else:
        err_console.print(f"regressions: {len(lines)} past red-team successes replayed; none is genuine without review")
    if reviewed:
        warn(f"{len(reviewed)} are genuine but sent to review: {', '.join(reviewed)}")
    return broken
