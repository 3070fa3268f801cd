"""`cai report DIR` and `cai report diff DIR_A DIR_B`: read an eval's report as tables, Markdown, JSON or HTML."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from constitutional.cli.common import user_errors
from constitutional.evals.render_data import load_dir
from constitutional.evals.render_diff import diff_runs, markdown_diff, terminal_diff
from constitutional.evals.render_html import write_html
from constitutional.evals.render_text import markdown, terminal_summary


class Format(str, Enum):
    text = "text"
    md = "md"
    json = "json"
    html = "html"


class DefaultShow(typer.core.TyperGroup):
    """`cai report DIR` means `cai report show DIR`; `cai report diff A B` stays a subcommand."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


report_app = typer.Typer(cls=DefaultShow, no_args_is_help=True,
                         help="Show an eval's report (`cai report DIR`), or compare two runs (`cai report diff A B`).")
FORMAT_HELP = "text: tables in the terminal; md: Markdown; json: the raw data; html: write DIR/report.html and print its path."


@report_app.command("show")
@user_errors
def show(
    dir: Path = typer.Argument(..., help="A run directory, or the --out of `cai eval` (with report.json and eval.jsonl)."),
    format: Format = typer.Option(Format.text, "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Summarise DIR/report.json: verdicts, per principle, canaries, calls, tokens, cost and timing."""
    run = load_dir(dir)
    if format is Format.html:
        typer.echo(write_html(run))
    elif format is Format.json:
        typer.echo(json.dumps(run.report, indent=2, ensure_ascii=False))
    elif format is Format.md:
        typer.echo(markdown(run.report), nl=False)
    else:
        Console(highlight=False).print(terminal_summary(run.report))


@report_app.command("diff")
@user_errors
def diff(
    dir_a: Path = typer.Argument(..., help="The 'before' run directory."),
    dir_b: Path = typer.Argument(..., help="The 'after' run directory."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="text, md or json."),
) -> None:
    """What changed from run A to run B: verdicts, per principle, records whose verdict changed, and the constitution."""
    result = diff_runs(load_dir(dir_a), load_dir(dir_b))
    if format is Format.json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    elif format is Format.md:
        typer.echo(markdown_diff(result), nl=False)
    elif format is Format.html:
        raise typer.BadParameter("diff has no HTML form; use text, md or json", param_hint="--format")
    else:
        Console(highlight=False).print(terminal_diff(result))
