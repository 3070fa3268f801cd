"""`cai export`: SFT or preference rows from a run, leaving out revisions the eval did not judge genuine."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import typer
from rich.markup import escape

from constitutional.cli.common import err_console, user_errors
from constitutional.export import SAFE_SFT_VERDICTS, export_rows, parse_only, write_rows


@user_errors
def export(
    run_dir: Path = typer.Argument(..., help="Run directory holding records.jsonl and eval.jsonl (run `cai eval DIR` first)."),
    fmt: str = typer.Option(..., "--format", "-f", help="sft: prompt -> final answer; dpo: prompt, chosen (revision), rejected (draft)."),
    only: str = typer.Option("genuine", "--only", help="Comma-separated verdicts to export, e.g. genuine,unchanged (sft only; dpo takes genuine alone)."),
    output: str = typer.Option(None, "--output", "-o", help="JSONL file to write, or '-' for stdout (default: DIR/FORMAT.jsonl)."),
    style: str = typer.Option("conversational", "--style", help="conversational (role/content messages) or standard (plain strings), as TRL names them."),
) -> None:
    """Write training rows in the layouts TRL and Hugging Face `datasets` load.

    By default only revisions judged `genuine` are exported: training on veneer teaches veneer.
    Prints how many records each verdict filter left out.
    """
    verdicts = parse_only(only, fmt)
    rows, result = export_rows(run_dir, fmt, verdicts, style)
    risky = sorted(verdicts - SAFE_SFT_VERDICTS)
    if risky:
        err_console.print(f"[yellow]warning:[/] exporting answers judged {', '.join(risky)}; "
                          "a model trained on them learns to produce them")
    target = output or str(run_dir / f"{fmt}.jsonl")
    if target == "-":
        write_rows(rows, sys.stdout)
    else:
        _write_file(Path(target), rows)
    err_console.print(f"exported {result.rows} {fmt} rows ({style}) to {escape(target)} (--only {','.join(sorted(verdicts))})")
    if result.left_out:
        shown = ", ".join(f"{reason} {count}" for reason, count in result.left_out.most_common())
        err_console.print(f"left out {sum(result.left_out.values())}: {escape(shown)}")
    else:
        err_console.print("left out 0")


def _write_file(target: Path, rows: Iterable[dict]) -> None:
    """Via a temporary file, so a record refused halfway leaves an earlier export as it was."""
    tmp = target.with_name(target.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            write_rows(rows, handle)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
