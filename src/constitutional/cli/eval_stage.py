"""The eval stage as `cai run` and `cai eval` show it: a progress bar while `evals.service.run_eval_stage` runs, then
report.html (written by the reports package) and a short summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

from constitutional.cli.common import err_console, say, warn, wrapped
from constitutional.cli.progress import EvalProgress
from constitutional.errors import os_failure
from constitutional.evals.canaries import judge_record
from constitutional.evals.service import run_eval_stage
from constitutional.reports.render_html import write_html_report

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
    if report.canaries.judge_fooled_rate is not None:
        err_console.print(escape(wrapped(f"canaries: the judge {judge_record(report.canaries.model_dump())}")))
    for warning in report.warnings:
        warn(warning)
    return result
