"""`cai export`: SFT or preference rows from a run or an audit, leaving out revisions the eval did not judge genuine."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from constitutional.cli import options as opt
from constitutional.cli.common import err_console, user_errors
from constitutional.errors import os_failure
from constitutional.export import SAFE_SFT_VERDICTS, export_rows, parse_only
from constitutional.rundir import write_atomic, write_output
from constitutional.text import printable


class ExportFormat(str, Enum):
    sft = "sft"
    dpo = "dpo"


RunDir = Annotated[Path, typer.Argument(help="A run directory after `cai eval DIR`, or the --out of `cai eval FILE.jsonl`.")]
Format = Annotated[
    ExportFormat,
    typer.Option(
        "--format",
        "-f",
        help="sft: prompt and final answer; dpo: prompt, chosen (revision), rejected (draft).",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
]
Only = Annotated[
    str,
    typer.Option("--only", help="Comma-separated verdicts, e.g. genuine,unchanged (sft only).", rich_help_panel=opt.EVAL_PANEL),
]
Out = Annotated[
    str | None,
    typer.Option(
        "--out",
        "-o",
        help="JSONL file to write, or - for stdout (default: DIR/FORMAT.jsonl).",
        metavar="PATH",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
]
Style = Annotated[
    str,
    typer.Option(
        "--style",
        help="conversational (role/content messages) or standard (plain strings).",
        metavar="STYLE",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
]
IncludeUnreviewed = Annotated[
    bool,
    typer.Option(
        "--include-unreviewed",
        help="Keep records waiting for review that no person has labelled.",
        rich_help_panel=opt.EVAL_PANEL,
    ),
]


@user_errors
def export(
    run_dir: RunDir,
    format_: Format,
    only: Only = "genuine",
    out: Out = None,
    output: opt.OutputAlias = None,
    style: Style = "conversational",
    include_unreviewed: IncludeUnreviewed = False,
) -> None:
    """Write training rows in the layouts TRL and Hugging Face `datasets` load.

    By default only revisions judged `genuine` are exported: training on veneer teaches veneer. A person's verdict
    (`cai review DIR --set ID VERDICT`) replaces the eval's; records that need review and have none are left out.
    Prints how many records each verdict filter left out.
    """
    output, fmt = out or output, format_.value
    verdicts = parse_only(only, fmt)
    rows, result = export_rows(run_dir, fmt, verdicts, style, include_unreviewed)
    risky = sorted(verdicts - SAFE_SFT_VERDICTS)
    if risky:
        err_console.print(
            f"[yellow]warning:[/] exporting answers judged {', '.join(risky)}; a model trained on them learns to produce them"
        )
    target = output or str(run_dir / f"{fmt}.jsonl")
    lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if target == "-":
        sys.stdout.writelines(lines)
    else:
        try:
            # a record refused halfway leaves an earlier export as it was; a pipe or device given as -o is written into
            (write_output if output else write_atomic)(Path(target), lines)
        except OSError as exc:  # a full disk, a read-only folder: an earlier export there is as it was
            raise os_failure(exc, "cannot write", target, then="rerun the same command (or give -o elsewhere)") from None
    err_console.print(f"exported {result.rows} {fmt} rows ({style}) to {escape(target)} (--only {','.join(sorted(verdicts))})")
    if result.left_out:
        shown = ", ".join(f"{reason} {count}" for reason, count in result.left_out.most_common())
        err_console.print(f"left out {sum(result.left_out.values())}: {escape(printable(shown))}")
    else:
        err_console.print("left out 0")
    if result.unreviewed:
        err_console.print(
            f"left out {result.unreviewed} that need review and have no human verdict; --include-unreviewed keeps them"
        )
